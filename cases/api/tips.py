"""Citizen snap-and-report (随手拍) without an account, and following a tip
by its tracking token; plus reading a photo's camera position to suggest
where a report is.

What a tip's status shows is public-safe: no one's name, phone or email, no
internal notes or who acted, only photos stored without metadata."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_errors import FormParser, JSONParser, MultiPartParser
from core.api_serializers import ModelSerializer
from core.throttles import PUBLIC_RATE_LIMITS
from grids.selectors import OutsideJurisdiction, grid_for_point

from .. import limits, services
from ..models import AttachmentKind, Case, PendingRequest, Satisfaction, Source, Status
from ..photo_access import attachment_url
from ..photos import hints_for_upload
from ..selectors import public_photos, public_reply, public_timeline, tip_by_token
from .inputs import valid_input
from .serializers import (
    CategoryCodeField,
    PointSerializer,
    ReportInputSerializer,
    point_json,
    thumbnail_url,
)
from .submission import idempotency_key, replay_headers

PHONE = RegexValidator(
    r"^\+?[0-9][0-9 -]{4,28}[0-9]$",
    _("Give a phone number: digits, spaces, dashes, an optional +."),
)

# What a citizen sees of the case's status.
PUBLIC_STATUS = {
    Status.REPORTED: "received",
    Status.VERIFYING: "verifying",
    Status.REGISTERED: "accepted",
    Status.RETURNED: "accepted",
    Status.DISPATCHED: "accepted",
    Status.IN_PROGRESS: "in_progress",
    Status.SUSPENDED: "in_progress",
    Status.HANDLED: "fixed",
    Status.CLOSED: "closed",
    Status.REJECTED: "not_taken_up",
}
PUBLIC_STATUS_LABELS = {
    "received": _("received, waiting to be registered"),
    "verifying": _("received, a grid worker is checking it on site"),
    "accepted": _("registered, with the command centre or the department"),
    "in_progress": _("being handled"),
    "fixed": _("reported fixed, waiting for an on-site check"),
    "closed": _("checked and closed"),
    "not_taken_up": _("not taken up"),
}


class CitizenCategoryField(CategoryCodeField):
    citizens = True


class TipCreateSerializer(ReportInputSerializer):
    category = CitizenCategoryField(
        required=False,
        allow_null=True,
        default=None,
        help_text=_("A category code from /api/v1/categories/ (citizen_visible); omit if unsure."),
    )
    name = serializers.CharField(
        max_length=limits.REPORTER_NAME, required=False, default="", allow_blank=True
    )
    phone = serializers.CharField(
        max_length=limits.REPORTER_PHONE,
        required=False,
        default="",
        allow_blank=True,
        validators=[PHONE],
    )
    email = serializers.EmailField(required=False, default="", allow_blank=True)


def file_tip(request, data) -> Case:
    """File a citizen's tip from its checked input (``TipCreateSerializer``):
    the API and the citizen's web form (cases/citizen.py) both send tips
    through here, with the idempotency key of the request."""
    data = dict(data)
    key = idempotency_key(request, data.pop("client_uuid", None))
    return services.case_report(
        reporter=None,
        source=Source.CITIZEN,
        description=data["description"],
        lng=data["lng"],
        lat=data["lat"],
        crs=data["crs"],
        category=data["category"],
        address=data["address"],
        reporter_name=data["name"],
        reporter_phone=data["phone"],
        reporter_email=data["email"],
        photos=data["photos"],
        attributes=data["attributes"],
        idempotency_key=key,
    )


class TipReceiptSerializer(serializers.Serializer):
    tracking_token = serializers.CharField()
    number = serializers.CharField()
    public_status = serializers.CharField()
    location = PointSerializer()
    status_url = serializers.CharField()


class PublicPhotoSerializer(serializers.Serializer):
    """A public photo, by URLs signed for whoever holds the tracking token
    (valid PHOTOS_URL_MAX_AGE seconds; the status gives fresh ones)."""

    kind = serializers.ChoiceField(choices=AttachmentKind.choices)
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_url(self, attachment) -> str | None:
        return attachment_url(self.context["request"], attachment, "original", signed=True)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_thumbnail_url(self, attachment) -> str | None:
        return thumbnail_url(attachment, self.context, signed=True)


class PublicStepSerializer(serializers.Serializer):
    step = serializers.CharField()
    label = serializers.CharField()
    at = serializers.DateTimeField()


class TipRatingSerializer(serializers.Serializer):
    """The reporter's rating of the outcome (回访), and whether it may be given now."""

    satisfaction = serializers.ChoiceField(choices=Satisfaction.choices, allow_blank=True)
    can_rate = serializers.BooleanField()
    rate_until = serializers.DateTimeField(allow_null=True)
    reopen_requested = serializers.BooleanField()

    @classmethod
    def of(cls, case: Case) -> dict:
        closed = case.status == Status.CLOSED
        return cls(
            {
                "satisfaction": case.satisfaction,
                "can_rate": closed and case.not_rated() and case.rating_window_open(),
                "rate_until": case.reopen_until if closed else None,
                "reopen_requested": case.pending_request == PendingRequest.REOPEN,
            }
        ).data


class TipRateSerializer(serializers.Serializer):
    satisfaction = serializers.ChoiceField(choices=Satisfaction.choices)
    comment = serializers.CharField(
        max_length=limits.NOTE,
        required=False,
        default="",
        allow_blank=True,
        help_text=_("Required when not satisfied: why (it asks the command centre to reopen)."),
    )


class TipStatusSerializer(ModelSerializer):
    public_status = serializers.SerializerMethodField()
    public_status_display = serializers.SerializerMethodField()
    category = serializers.SerializerMethodField()
    location = serializers.SerializerMethodField()
    department = serializers.SerializerMethodField()
    reply = serializers.SerializerMethodField(
        help_text=_("The department's reply to the reporter on reporting it fixed; empty if none.")
    )
    expected_at = serializers.SerializerMethodField()
    photos = serializers.SerializerMethodField()
    steps = serializers.SerializerMethodField()
    rating = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "number", "public_status", "public_status_display", "category", "description",
            "address", "location", "department", "reply", "expected_at", "created_at", "updated_at",
            "closed_at", "photos", "steps", "rating",
        ]  # fmt: skip

    @extend_schema_field(serializers.ChoiceField(choices=sorted(PUBLIC_STATUS_LABELS)))
    def get_public_status(self, case) -> str:
        return PUBLIC_STATUS[case.status]

    def get_public_status_display(self, case) -> str:
        return str(PUBLIC_STATUS_LABELS[PUBLIC_STATUS[case.status]])

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_category(self, case) -> str | None:
        return case.category.name if case.category_id else None

    @extend_schema_field(PointSerializer)
    def get_location(self, case) -> dict:
        return point_json(case.location)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_department(self, case) -> str | None:
        return case.department.name if case.department_id else None

    def get_reply(self, case) -> str:
        return public_reply(case)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_expected_at(self, case):
        if not case.is_open or case.due_at is None:
            return None
        return serializers.DateTimeField().to_representation(case.due_at)

    @extend_schema_field(PublicPhotoSerializer(many=True))
    def get_photos(self, case):
        return PublicPhotoSerializer(public_photos(case), many=True, context=self.context).data

    @extend_schema_field(PublicStepSerializer(many=True))
    def get_steps(self, case):
        return PublicStepSerializer(public_timeline(case), many=True).data

    @extend_schema_field(TipRatingSerializer)
    def get_rating(self, case):
        return TipRatingSerializer.of(case)


class _Public(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = PUBLIC_RATE_LIMITS

    def rate_limit_token(self, request) -> str | None:
        return self.kwargs.get("token")


class TipCreate(_Public):
    """Send a tip (随手拍): photos, where, what; no account needed.

    Keep the returned ``tracking_token``: it is the only way to follow the
    tip. Send an ``Idempotency-Key`` header (or ``client_uuid``) so that a
    retry on a bad network returns the first tip instead of filing two."""

    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        request={
            "application/json": TipCreateSerializer,
            "multipart/form-data": TipCreateSerializer,
        },
        parameters=[
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)
        ],
        responses={201: TipReceiptSerializer, 200: TipReceiptSerializer},
        auth=[],
    )
    def post(self, request):
        case = file_tip(request, valid_input(TipCreateSerializer, request))
        receipt = {
            "tracking_token": case.tracking_token,
            "number": case.number,
            "public_status": PUBLIC_STATUS[case.status],
            "location": point_json(case.location),
            "status_url": request.build_absolute_uri(f"/api/v1/tips/{case.tracking_token}/"),
        }
        return Response(
            receipt,
            status=status.HTTP_200_OK if case.replayed else status.HTTP_201_CREATED,
            headers=replay_headers(case),
        )


class TipStatus(_Public):
    """A tip's progress, by its tracking token (public-safe)."""

    @extend_schema(responses=TipStatusSerializer, auth=[])
    def get(self, request, token: str):
        case = tip_by_token(token)
        return Response(TipStatusSerializer(case, context={"request": request}).data)


class TipRate(_Public):
    """Rate the outcome of a closed tip (回访) by its tracking token, within
    CASES_REOPEN_DAYS of its closure: satisfied, basically satisfied or not
    satisfied. Not satisfied needs a ``comment`` saying why, and asks the
    command centre to reopen the tip. Once only; 409 when the tip is not
    closed, is rated already or the time has passed."""

    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(request=TipRateSerializer, responses=TipStatusSerializer, auth=[])
    def post(self, request, token: str):
        data = valid_input(TipRateSerializer, request)
        case = services.case_rate_by_token(
            token=token, satisfaction=data["satisfaction"], comment=data["comment"]
        )
        case = tip_by_token(case.tracking_token)
        return Response(TipStatusSerializer(case, context={"request": request}).data)


class PhotoHintsInput(serializers.Serializer):
    photo = serializers.FileField()


class GridRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class PhotoHintsSerializer(serializers.Serializer):
    location = PointSerializer(allow_null=True)
    taken_at = serializers.DateTimeField(allow_null=True)
    grid = GridRefSerializer(allow_null=True)


class PhotoHints(APIView):
    """Where and when a photo was taken, from the camera's EXIF, to suggest
    the report's location; ``grid`` is null when that point is outside the
    city. Nothing is stored."""

    permission_classes = [AllowAny]
    throttle_classes = PUBLIC_RATE_LIMITS
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": PhotoHintsInput}, responses=PhotoHintsSerializer)
    def post(self, request):
        serializer = PhotoHintsInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        hints = hints_for_upload(serializer.validated_data["photo"], field="photo")
        grid = None
        location = None
        if hints.has_location:
            location = {"lng": hints.lng, "lat": hints.lat}
            try:
                match = grid_for_point(lng=hints.lng, lat=hints.lat)
            except OutsideJurisdiction:
                pass
            else:
                grid = {"id": match.id, "code": match.code, "name": match.name}
        return Response(
            PhotoHintsSerializer(
                {"location": location, "taken_at": hints.taken_at, "grid": grid}
            ).data
        )
