"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) for citizen tips.

    GET  discovery.{fmt}                     the service discovery document
    GET  services.{fmt}                      categories citizens may choose
    GET  services/{service_code}.{fmt}       a category's questions
    GET  requests.{fmt}                      public view of cases (filters)
    POST requests.{fmt}                      file a tip (api_key required)
    GET  requests/{service_request_id}.{fmt} one case, as an array of one
    GET  tokens/{token}.{fmt}                a tip's tracking token → its id

``fmt`` is ``xml`` or ``json``. Every error, whatever raised it, is an
Open311 error array in the requested format (XML when the format itself is
unknown): 404 for what does not exist, 403 for a missing or bad api_key, 400
for any other bad input. Views parse, call one selector or service, render.
"""

from __future__ import annotations

import logging
import math
import re

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from core.api_errors import FormParser, MultiPartParser
from core.dbrouting import replica_reads
from core.throttles import PUBLIC_RATE_LIMITS

from .. import services
from ..attributes import unstorable_text
from ..errors import CaseError
from ..models import FINAL_STATUSES, ApiClient, Source
from ..working_time import CalendarMissing
from . import inputs, representations, selectors
from .inputs import Open311Error
from .renderers import FORMATS, JSON, MIME_TYPES, XML, render, render_errors

logger = logging.getLogger(__name__)

MAX_RESULTS = 1000
MAX_TOKEN = 64
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

# Field names of the case services → the Open311 argument they come from.
OPEN311_FIELD = {
    "category": "service_code",
    "location": "lat/long",
    "address": "address_string",
    "reporter_email": "email",
    "reporter_phone": "phone",
    "reporter_name": "first_name/last_name",
    "photos": "media",
    "attributes": "attribute",
    "idempotency_key": "Idempotency-Key",
}


def _open311_status(status: int) -> int:
    """The specification's codes: 404 missing, 403 api_key, 429 slow down,
    5xx ours; 400 for any other refusal (409, 415, 422…)."""
    if status in (403, 404, 405, 429) or status >= 500:
        return status
    return 400


def _refuse_unstorable_text(request, kwargs) -> None:
    values = [*kwargs.values()]
    form = request.POST if request.method == "POST" else QueryDict()
    for params in (request.query_params, form):
        for key, items in params.lists():
            values.append(key)
            values.extend(items)
    for value in values:
        if isinstance(value, str) and unstorable_text(value):
            raise Open311Error(400, _("The request contains characters that are not allowed."))


@extend_schema(exclude=True)
class Open311View(APIView):
    """Open311 rendering and error handling for every endpoint."""

    schema = None  # not part of the /api/v1/ OpenAPI schema
    authentication_classes: list = []  # an api_key in the form is the only credential
    permission_classes = [AllowAny]
    parser_classes = [FormParser, MultiPartParser]
    # Per client address, and per api_key / tracking token (``rate_limit_token``).
    throttle_classes = PUBLIC_RATE_LIMITS

    root = "service_requests"

    def format_of(self) -> str:
        fmt = self.kwargs.get("fmt", XML)
        return fmt if fmt in FORMATS else XML

    def dispatch(self, request, *args, **kwargs):
        # What citizens and their apps read may lag the command centre by a
        # moment: GETs may be served by a replica (core/dbrouting.py).
        if request.method in ("GET", "HEAD"):
            with replica_reads():
                return super().dispatch(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        if kwargs.get("fmt") not in FORMATS:
            raise Open311Error(
                404,
                _("Unknown format “%(fmt)s”: use .xml or .json.")
                % {"fmt": str(kwargs.get("fmt"))[:20]},
            )
        super().initial(request, *args, **kwargs)
        _refuse_unstorable_text(request, kwargs)

    _parse_error: Exception | None = None

    def rate_limit_token(self, request) -> str | None:
        """The api_key a POST is sent with, in the form or (as some clients
        send it) in the query string; read for the per-key rate limit too."""
        if request.method != "POST":
            return None
        key = None
        if request.content_type.split(";")[0].strip().lower() in FORM_TYPES:
            try:
                key = request.POST.get("api_key")
            except (exceptions.ParseError, SuspiciousOperation) as exc:
                # Refused by the view, which must not see an empty form instead.
                self._parse_error = exc
        return key or request.query_params.get("api_key") or None

    def perform_content_negotiation(self, request, force=False):
        # The format is the path's extension; the Accept header plays no part.
        return (JSONRenderer(), "application/json")

    def render(self, data, *, status: int = 200):
        return render(data, self.format_of(), root=self.root, status=status)

    def handle_exception(self, exc):
        fmt = self.format_of()
        if isinstance(exc, Open311Error):
            return render_errors(exc.errors, fmt, status=exc.status, headers=exc.headers)
        if isinstance(exc, CaseError):
            status = _open311_status(exc.status)
            return render_errors([(status, _described(exc))], fmt, status=status)
        if isinstance(exc, CalendarMissing):
            logger.error("%s", exc)
            return render_errors([(503, str(exc))], fmt, status=503)
        if isinstance(exc, SuspiciousOperation):
            message = _("The request is too large or malformed.")
            return render_errors([(400, message)], fmt, status=400)
        if isinstance(exc, Http404):
            exc = exceptions.NotFound()
        if isinstance(exc, exceptions.APIException):
            status = _open311_status(exc.status_code)
            headers = {}
            if getattr(exc, "wait", None):
                headers["Retry-After"] = str(math.ceil(exc.wait))
            if isinstance(exc, exceptions.UnsupportedMediaType):
                message = _(
                    "Send the form as application/x-www-form-urlencoded "
                    "(or multipart/form-data with media files)."
                )
            elif isinstance(exc, exceptions.ParseError):
                message = _("The form could not be read: %(detail)s") % {"detail": exc.detail}
            else:
                message = str(exc.detail)
            return render_errors([(status, message)], fmt, status=status, headers=headers)
        logger.exception("Open311 %s %s failed", self.request.method, self.request.path)
        return render_errors([(500, _("Internal error; please try again later."))], fmt, status=500)


def _described(exc: CaseError) -> str:
    """The service's message, led by the Open311 argument it is about when
    the message does not name it already."""
    message = str(exc.message)
    field = exc.field or ""
    name = OPEN311_FIELD.get(field, field)
    if name != field:
        message = re.sub(rf"\b{re.escape(field)}\b", name, message)
    if name and name not in message:
        return f"{name}: {message}"
    return message


class Discovery(Open311View):
    root = "discovery"

    def get(self, request, fmt):
        url = request.build_absolute_uri(reverse("open311:root"))
        data = representations.discovery(
            url=url.rstrip("/"),
            formats=[MIME_TYPES[XML], MIME_TYPES[JSON]],
            contact=getattr(
                settings,
                "OPEN311_CONTACT",
                _("The city's urban management command centre (城市管理指挥中心)."),
            ),
            key_service=getattr(
                settings,
                "OPEN311_KEY_SERVICE",
                _("Ask the command centre's administrators for an API key (API clients)."),
            ),
            test=settings.DEBUG,
        )
        return self.render(data)


class ServiceList(Open311View):
    root = "services"

    def get(self, request, fmt):
        return self.render([representations.service(c) for c in selectors.services()])


class ServiceDefinition(Open311View):
    root = "service_definition"

    def get(self, request, service_code, fmt):
        category = selectors.service(service_code)
        if category is None:
            raise Open311Error(404, _unknown_service(service_code))
        return self.render(representations.service_definition(category))


def _unknown_service(code: str) -> str:
    return _("service_code “%(code)s” was not found.") % {"code": code[:40]}


class Requests(Open311View):
    def get(self, request, fmt):
        query = inputs.request_filter(request.query_params, now=timezone.now())
        cases = selectors.public_requests()
        if query.ids:
            cases = cases.filter(number__in=query.ids)
        else:
            cases = cases.filter(created_at__gte=query.start, created_at__lte=query.end)
            if query.service_codes:
                known = selectors.known_service_codes(query.service_codes)
                unknown = [c for c in query.service_codes if c not in known]
                if unknown:
                    raise Open311Error(400, [_unknown_service(c) for c in unknown])
                cases = cases.filter(category__code__in=query.service_codes)
            if query.statuses == [representations.OPEN]:
                cases = cases.exclude(status__in=FINAL_STATUSES)
            elif query.statuses == [representations.CLOSED]:
                cases = cases.filter(status__in=FINAL_STATUSES)
        rows = cases[:MAX_RESULTS]
        return self.render([representations.service_request(c, request) for c in rows])

    def post(self, request, fmt):
        params = self._form(request)
        client = self._client(request)
        code = params.get("service_code", "").strip()
        category = None
        if code:
            category = selectors.service(code)
            if category is None:
                raise Open311Error(404, _unknown_service(code))
        media = [*request.FILES.getlist("media"), *request.FILES.getlist("media[]")]
        form = inputs.submission(params, has_media=bool(media))
        case = services.case_report(
            reporter=None,
            source=Source.CITIZEN,
            description=form.description,
            lng=form.lng,
            lat=form.lat,
            category=category,
            address=form.address,
            reporter_name=form.name,
            reporter_phone=form.phone,
            reporter_email=form.email,
            photos=media,
            attributes=form.attributes,
            media_url=form.media_url,
            api_client=client,
            idempotency_key=request.headers.get("Idempotency-Key") or None,
        )
        replayed = getattr(case, "replayed", False)
        # (A new tip is published once registered, publication.py; until
        # then, and for a retry of one staff have since moved out of public
        # view, the answer is read from the case as filed.)
        case = selectors.public_requests().filter(pk=case.pk).first() or case
        response = self.render([representations.created(case, account_id=form.account_id)])
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    def _form(self, request):
        if request.content_type.split(";")[0].strip().lower() not in FORM_TYPES:
            raise exceptions.UnsupportedMediaType(request.content_type)
        if self._parse_error is not None:
            raise self._parse_error
        # Fields only: a field sent as a file part is as good as missing.
        return request.POST

    def _client(self, request) -> ApiClient:
        key = self.rate_limit_token(request)
        if not key:
            raise Open311Error(403, _("api_key is required to create a service request."))
        client = ApiClient.objects.filter(api_key=str(key)[:64], is_active=True).first()
        if client is None:
            raise Open311Error(
                403, _("Invalid api_key received: cannot create the service request.")
            )
        return client


class RequestDetail(Open311View):
    def get(self, request, service_request_id, fmt):
        case = selectors.public_requests().filter(number=service_request_id).first()
        if case is None:
            raise Open311Error(
                404,
                _("service_request_id “%(id)s” was not found.") % {"id": service_request_id[:40]},
            )
        return self.render([representations.service_request(case, request)])


class Token(Open311View):
    def rate_limit_token(self, request) -> str | None:
        return self.kwargs.get("token")

    def get(self, request, token, fmt):
        case = selectors.request_of_token(token) if len(token) <= MAX_TOKEN else None
        if case is None:
            raise Open311Error(404, _("token was not found."))
        return self.render([representations.token(case)])


class NotFound(Open311View):
    """Any other path under /open311/v2/."""

    def format_of(self) -> str:
        path = self.request.path
        return JSON if path.endswith(".json") else XML

    def initial(self, request, *args, **kwargs):
        raise Open311Error(404, _("No such Open311 resource: %(path)s") % {"path": request.path})
