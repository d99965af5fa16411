"""The citizen's pages, without an account: /report/ (随手拍) sends a tip,
/report/sent/<token>/ gives its tracking link and QR code, /track/<token>/
follows it and, once it is closed, rates the outcome.

The pages hold no rule of their own: the form is read by the tips API's
serializer and filed by the same function (``cases.api.tips.file_tip``),
under the same rate limits (``core.throttles``), photo checks and
idempotency; what a citizen may see of a tip is what the API shows."""

from __future__ import annotations

import secrets

import segno
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.dateparse import parse_datetime
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from rest_framework.exceptions import ValidationError
from rest_framework.fields import SkipField, empty

from core.api_errors import error_body, field_messages
from core.errors import DomainError
from core.site import SITE_TITLE
from core.throttles import public_page_refused
from grids.api.geojson import city_outline

from . import limits, services
from .api.inputs import form_data
from .api.tips import TipCreateSerializer, TipStatusSerializer, file_tip
from .attributes import question_text
from .errors import CaseNotFound
from .models import CategoryAttribute, Satisfaction, Status
from .selectors import citizen_categories, citizen_shortlist, tip_by_token

# Where each error shows on the form: its own field, the map for the point,
# the questions' block for answers, the top of the form for the rest.
FORM_FIELDS = ("photos", "location", "category", "attributes", "description", "name", "phone",
               "email", "address")  # fmt: skip
ERROR_PLACES = {
    "lng": "location", "lat": "location", "crs": "location",
    "reporter_name": "name", "reporter_phone": "phone", "reporter_email": "email",
}  # fmt: skip


# Refusals worded for the API's clients, said in the form's own words.
PAGE_WORDS = {
    "location_required": gettext_lazy(
        "Show where the problem is: use your location, tap the map, "
        "or add a photo taken with the location on."
    ),
    # The form came back (the browser's Back button) after it was sent.
    "idempotency_key_reused": gettext_lazy(
        "This form was already sent. Open the report page again to send another report."
    ),
    "outside_jurisdiction": gettext_lazy(
        "This place is outside the city. Put the pin where the problem is, inside the city."
    ),
}


def error_place(field: str) -> str:
    if field.startswith("attribute"):
        return "attributes"
    field = ERROR_PLACES.get(field, field)
    return field if field in FORM_FIELDS else "form"


@require_http_methods(["GET", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    """The report form; a POST files the tip (a plain form post, or the
    page's script asking for JSON) and goes on to the receipt."""
    wants_json = "application/json" in request.headers.get("Accept", "")
    values, errors = {}, {}
    if request.method == "POST":
        if wait := public_page_refused(request):
            return _rate_limited(request, wait, wants_json)
        values = request.POST
        try:
            case = file_tip(request, checked_form(request))
        except DomainError as exc:
            errors, status = placed_errors(exc, request.POST.get("category", "")), exc.status
            if wants_json:
                first = next(iter(errors.values()))[0]
                return JsonResponse(error_body(exc.code, first, errors), status=status)
        else:
            receipt = reverse("citizen-sent", args=[case.tracking_token])
            if wants_json:
                return JsonResponse({"next": receipt}, status=200 if case.replayed else 201)
            return redirect(receipt, permanent=False)
    else:
        status = 200
    return render(
        request,
        "citizen/report.html",
        {
            "site_title": SITE_TITLE,
            **_category_lists(values.get("category", "")),
            "values": values,
            "errors": errors,
            "client_uuid": values.get("client_uuid") or secrets.token_urlsafe(16),
            "outline": city_outline(),
            "map_tiles": settings.MAP_TILE_URL,
            "center": settings.LEAFLET_CONFIG["DEFAULT_CENTER"],
            "limits": limits,
            "photo_max_mb": settings.CASES_PHOTO_MAX_BYTES // (1024 * 1024),
        },
        status=status,
    )


def placed_errors(exc: DomainError, category_code: str = "") -> dict[str, list[str]]:
    """A refusal's messages by the place on the form they show at."""
    if isinstance(exc, FormInputError):
        errors = exc.fields
    else:
        errors = {exc.field or "form": [_in_page_words(exc, category_code)]}
    placed: dict[str, list[str]] = {}
    for field, messages in errors.items():
        placed.setdefault(error_place(field), []).extend(messages)
    return placed


def _in_page_words(exc: DomainError, category_code: str) -> str:
    """A refusal said in the form's words: the API's wording names fields
    and question codes that the form does not show."""
    if exc.code in PAGE_WORDS:
        return str(PAGE_WORDS[exc.code])
    if exc.code == "required" and (exc.field or "").startswith("attribute["):
        code = exc.field.removeprefix("attribute[").removesuffix("]")
        question = CategoryAttribute.objects.filter(category__code=category_code, code=code).first()
        if question is not None:
            return _("Answer this question: %(question)s") % {"question": question_text(question)}
    return exc.message


class FormInputError(DomainError):
    """The form's fields as the tips API's serializer refused them."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__(_("Check the form: some answers need correcting."))
        self.field_errors = fields

    @property
    def fields(self):
        return self.field_errors


def checked_form(request: HttpRequest, serializer_class=TipCreateSerializer) -> dict:
    """The form read by the API's serializer (the tips API's, unless another
    is named). The questions of every category are on the page; only the
    chosen category's answers are sent."""
    category = request.POST.get("category", "")
    data = form_data(request.POST, request.FILES, answers_prefix=f"attributes.{category}.")
    # Left empty: no choice, no point, no file chosen (browsers send an empty
    # part for a file input left empty).
    for optional in ("category", "lng", "lat", "photos"):
        if data.get(optional) in ("", None):
            data.pop(optional, None)
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        fields = field_messages(serializer.errors)
        # The serializer's checks across fields and the service's own checks
        # of the parts the form got right, beside the form's refusals: the
        # citizen corrects everything at once.
        parts = _accepted_parts(serializer, data)
        try:
            serializer.validate(dict(parts))
        except ValidationError as exc:
            fields.update(field_messages(exc.detail))
            parts["crs"] = None  # the point is wrong already: not judged again
        for refusal in services.report_refusals(**parts):
            message = _in_page_words(refusal, category)
            fields.setdefault(refusal.field or "form", []).append(message)
        raise FormInputError(fields)
    return serializer.validated_data


def _accepted_parts(serializer, data: dict) -> dict:
    """The place, photos, category and answers as the serializer read them,
    None for a part it refused (not checked again)."""
    values = {}
    for name in ("lng", "lat", "crs", "photos", "category", "attributes"):
        field = serializer.fields[name]
        try:
            values[name] = field.run_validation(data.get(name, empty))
        except (ValidationError, SkipField):
            values[name] = None
    place_known = not {"lng", "lat", "crs"} & set(serializer.errors)
    return {
        "lng": values["lng"],
        "lat": values["lat"],
        "crs": values["crs"] if place_known else None,
        "photos": values["photos"] if "photos" not in serializer.errors else None,
        "category": values["category"],
        "attributes": values["attributes"],
    }


def _category_lists(chosen: str) -> dict:
    """Every citizen category (its questions are on the page), the short
    list shown first, the rest behind "other categories" (opened when the
    chosen one is there)."""
    categories = category_choices(citizen_categories())
    short = citizen_shortlist()
    shortlist = sorted(
        (c for c in categories if c["code"] in short), key=lambda c: short.index(c["code"])
    )
    others = [c for c in categories if c["code"] not in short]
    return {
        "categories": categories,
        "shortlist": shortlist,
        "other_categories": others,
        "others_open": any(c["code"] == chosen for c in others),
    }


def category_choices(categories) -> list[dict]:
    """Categories as a report form offers them: name and class in the page's
    language, with the questions the category asks."""
    english = translation.get_language() == "en"
    return [
        {
            "code": c.code,
            "name": (c.name_en if english else c.name) or c.name,
            "group": (c.major.name_en if english else c.major.name) or c.major.name,
            "questions": [
                {
                    "code": q.code,
                    "text": (q.description_en if english else q.description) or q.description,
                    "hint": q.datatype_description,
                    "datatype": q.datatype,
                    "required": q.required,
                    "values": q.values or [],
                }
                for q in c.attributes.all()
                if q.variable
            ],
        }
        for c in categories
    ]


@require_http_methods(["GET"])
def sent(request: HttpRequest, token: str) -> HttpResponse:
    """After sending: the tip's number, its tracking link and a QR code of it."""
    case = _tip_or_none(token)
    if case is None:
        return _unknown_tip(request)
    link = request.build_absolute_uri(reverse("citizen-track", args=[token]))
    qr = segno.make(link, error="m").svg_inline(
        scale=5, border=2, dark="#0b0c0c", omitsize=True, svgclass="c-qr"
    )
    return render(
        request,
        "citizen/sent.html",
        {"site_title": SITE_TITLE, "case": case, "link": link, "qr": mark_safe(qr)},  # noqa: S308 - segno's own SVG
    )


@require_http_methods(["GET", "POST"])
def track(request: HttpRequest, token: str) -> HttpResponse:
    """A tip's progress in plain words; after closure, the rating form."""
    if wait := public_page_refused(request, token=token):
        return _rate_limited(request, wait, wants_json=False)
    case = _tip_or_none(token)
    if case is None:
        return _unknown_tip(request)
    rating_errors, status = {}, 200
    if request.method == "POST":
        try:
            rate_tip(
                token=token,
                satisfaction=request.POST.get("satisfaction", ""),
                comment=request.POST.get("comment", ""),
            )
        except DomainError as exc:
            rating_errors, status = _rating_errors(exc, request.POST), exc.status
        else:
            return redirect(request.path + "#rating", permanent=False)
    public = TipStatusSerializer(case, context={"request": request}).data
    rating = public["rating"]
    return render(
        request,
        "citizen/track.html",
        {
            "site_title": SITE_TITLE,
            "case": case,
            "public": public,
            "steps": [{**s, "at": parse_datetime(s["at"])} for s in public["steps"]],
            "expected_at": parse_datetime(public["expected_at"] or ""),
            "may_rate": rating["can_rate"],
            "rate_until": parse_datetime(rating["rate_until"] or ""),
            # Closed, not rated, and the form gone: the time allowed has passed.
            "rating_over": case.status == Status.CLOSED
            and not case.satisfaction
            and not rating["can_rate"],
            "reopen_requested": rating["reopen_requested"],
            "satisfaction": Satisfaction,
            "rated": Satisfaction(case.satisfaction).label if case.satisfaction else "",
            "rating_errors": rating_errors,
            "comment_limit": limits.NOTE,
            "reopen_days": settings.CASES_REOPEN_DAYS,
            "rating_values": request.POST if rating_errors else {},
        },
        status=status,
    )


def rate_tip(*, token: str, satisfaction: str, comment: str):
    """The citizen's rating of their closed tip by its tracking token, as
    the tips API rates (``case_rate_by_token``): whoever holds the link."""
    return services.case_rate_by_token(token=token, satisfaction=satisfaction, comment=comment)


# The rating's refusals worded for the page, by field.
RATING_WORDS = {
    "comment": gettext_lazy(
        "Say what is still wrong: a reason is needed when you are not satisfied."
    ),
}


def _rating_errors(exc: DomainError, form) -> dict[str, str]:
    """A refusal of the rating by the place it shows at: the choice, the
    comment, or the top of the form (the time has passed, rated already)."""
    field = exc.field if exc.field in ("satisfaction", "comment") else "rating"
    if field == "comment" and not form.get("comment", "").strip():
        return {field: str(RATING_WORDS["comment"])}
    return {field: exc.message}


def _tip_or_none(token: str):
    try:
        return tip_by_token(token)
    except CaseNotFound:
        return None


def _unknown_tip(request: HttpRequest) -> HttpResponse:
    return render(request, "citizen/unknown.html", {"site_title": SITE_TITLE}, status=404)


def _rate_limited(request: HttpRequest, wait: int, wants_json: bool) -> HttpResponse:
    message = _("Too many requests from your connection. Try again in %(n)s seconds.") % {"n": wait}
    if wants_json:
        response = JsonResponse(error_body("rate_limited", message), status=429)
    else:
        response = render(
            request,
            "citizen/message.html",
            {"site_title": SITE_TITLE, "heading": _("Please wait a moment"), "message": message},
            status=429,
        )
    response["Retry-After"] = str(wait)
    return response
