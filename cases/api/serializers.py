"""API shapes of cases, their history and the inputs of each action.

Output serializers read what the selectors give them; input serializers only
check types and ranges. The rules (who, when, what is required) are the
services'."""

from __future__ import annotations

from django.db.models import FloatField, Func, Prefetch
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api_serializers import ModelSerializer, Serializer
from grids.coords import CoordinateSystem
from organisation.models import Department

from .. import deadlines, limits
from ..attributes import unstorable_text
from ..categories import active_category
from ..models import (
    Case,
    CaseAttachment,
    CaseEvent,
    Category,
    Satisfaction,
    Source,
    Status,
    Urgency,
)
from ..photo_access import attachment_url
from ..policy import scope_of, works_on_cases
from ..selectors import (
    case_actions,
    contact_for,
    duplicate_candidates,
    open_directives,
    with_view,
)

MAX_PHOTOS = 9
STATUS_LABELS = dict(Status.choices)


class CategoryRefSerializer(ModelSerializer):
    class Meta:
        model = Category
        fields = ["code", "name", "name_en"]


class DepartmentRefSerializer(ModelSerializer):
    class Meta:
        model = Department
        fields = ["code", "name", "name_en"]


class PointSerializer(Serializer):
    lng = serializers.FloatField()
    lat = serializers.FloatField()


def point_json(point) -> dict | None:
    """A WGS-84 point as the API writes it."""
    return None if point is None else {"lng": point.x, "lat": point.y}


def thumbnail_url(attachment, context, *, signed: bool = False) -> str | None:
    """Absolute; null until the thumbnail is made (just after the upload)."""
    return attachment_url(context["request"], attachment, "thumbnail", signed=signed)


# What a case's public view (its detail for its reporter or a follower) leaves
# out of what a list row says: the desk's own work on it.
STAFF_ONLY = (
    "grid", "urgency", "command_level", "stage", "light", "is_supervised",
    "pending_request", "verification",
)  # fmt: skip


class CaseListSerializer(ModelSerializer):
    category = CategoryRefSerializer(allow_null=True)
    department = DepartmentRefSerializer(allow_null=True)
    location = serializers.SerializerMethodField()
    grid = serializers.CharField(source="grid.code", allow_null=True)
    light = serializers.SerializerMethodField()
    status_display = serializers.SerializerMethodField()
    in_full = serializers.SerializerMethodField(
        help_text=_(
            "False for a case you see only as its reporter or a follower: its staff "
            "fields (grid, urgency, command level, stage, light, supervision, pending "
            "request, verification) are then null, as its detail is the public view."
        )
    )

    class Meta:
        model = Case
        fields = [
            "id", "number", "status", "status_display", "source", "category", "description",
            "address", "location", "grid", "urgency", "department", "command_level", "stage",
            "light", "due_at", "is_supervised", "pending_request", "verification", "version",
            "created_at", "closed_at", "in_full",
        ]  # fmt: skip
        extra_kwargs = {name: {"allow_null": True} for name in STAFF_ONLY}

    def to_representation(self, instance):
        return _public_if_not_in_full(super().to_representation(instance))

    def get_in_full(self, case: Case) -> bool:
        return bool(getattr(case, "in_full", True))

    # --- Lists: the same rows, read as values ---------------------------------------
    # A page of the list is read with values() and written by ``represent``:
    # model instances and DRF's field-by-field walk cost more than the rest of
    # the request (about 11 -> 4 ms of CPU for 50 rows). Tests hold ``represent`` equal to
    # this serializer's output.
    VALUES = (
        "id", "number", "status", "source", "category__code", "category__name",
        "category__name_en", "description", "address", "grid__code", "urgency",
        "department__code", "department__name", "department__name_en", "command_level",
        "stage", "light", "due_at", "yellow_at", "is_supervised", "pending_request",
        "verification", "version", "created_at", "closed_at", "location_lng", "location_lat",
        "in_full",
    )  # fmt: skip

    @classmethod
    def rows(cls, queryset, user):
        """``queryset`` of cases as the values ``represent`` writes, as ``user`` sees them."""
        return (
            with_view(queryset, user)
            .annotate(
                location_lng=_Coordinate("location", function="ST_X"),
                location_lat=_Coordinate("location", function="ST_Y"),
            )
            .values(*cls.VALUES)
        )

    @classmethod
    def represent(cls, rows) -> list[dict]:
        """The serializer's output for ``rows`` (from ``rows``)."""
        now, tz = timezone.now(), timezone.get_current_timezone()
        # Translated once per page, not once per row.
        labels = {status: str(label) for status, label in STATUS_LABELS.items()}
        out = []
        for r in rows:
            out.append({
                "id": r["id"],
                "number": r["number"],
                "status": r["status"],
                "status_display": labels.get(r["status"], r["status"]),
                "source": r["source"],
                "category": _ref(r, "category"),
                "description": r["description"],
                "address": r["address"],
                "location": None if r["location_lng"] is None
                else {"lng": r["location_lng"], "lat": r["location_lat"]},
                "grid": r["grid__code"],
                "urgency": r["urgency"],
                "department": _ref(r, "department"),
                "command_level": r["command_level"],
                "stage": r["stage"],
                "light": deadlines.light_at(r["light"], r["due_at"], r["yellow_at"], now),
                "due_at": _iso(r["due_at"], tz),
                "is_supervised": r["is_supervised"],
                "pending_request": r["pending_request"],
                "verification": r["verification"],
                "version": r["version"],
                "created_at": _iso(r["created_at"], tz),
                "closed_at": _iso(r["closed_at"], tz),
                "in_full": bool(r["in_full"]),
            })  # fmt: skip
        return [_public_if_not_in_full(row) for row in out]

    def get_status_display(self, case: Case) -> str:
        # Not source="get_status_display": DRF inspects a callable source's
        # signature on every row.
        return str(STATUS_LABELS.get(case.status, case.status))

    @extend_schema_field(PointSerializer)
    def get_location(self, case: Case) -> dict:
        return point_json(case.location)

    @extend_schema_field(
        serializers.ChoiceField(choices=["", "green", "yellow", "red"], allow_null=True)
    )
    def get_light(self, case: Case) -> str:
        return deadlines.light_now(case, now=timezone.now())


def _public_if_not_in_full(row: dict) -> dict:
    """A list row as its reader may see it: a case seen only as its reporter
    or a follower without its staff fields."""
    if not row["in_full"]:
        row.update(dict.fromkeys(STAFF_ONLY))
    return row


class _Coordinate(Func):
    output_field = FloatField()


def _ref(row: dict, name: str) -> dict | None:
    """A category or department as CategoryRefSerializer writes it."""
    if row[f"{name}__code"] is None:
        return None
    return {k: row[f"{name}__{k}"] for k in ("code", "name", "name_en")}


def _iso(value, tz) -> str | None:
    """A datetime as DRF's DateTimeField writes it (ISO 8601, current time zone)."""
    if value is None:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class AttachmentSerializer(ModelSerializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    taken_at = serializers.SerializerMethodField()
    taken_location = serializers.SerializerMethodField()

    class Meta:
        model = CaseAttachment
        fields = [
            "id", "kind", "url", "thumbnail_url", "width", "height", "source_format",
            "taken_at", "taken_location", "created_at",
        ]  # fmt: skip

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_url(self, attachment) -> str | None:
        """The photo, served to those who may see it (cases.photo_access)."""
        return attachment_url(self.context["request"], attachment, "original")

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_thumbnail_url(self, attachment) -> str | None:
        return thumbnail_url(attachment, self.context)

    def _for_staff(self) -> bool:
        request = self.context.get("request")
        return request is not None and works_on_cases(scope_of(request.user))

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_taken_at(self, attachment):
        """When the camera says the photo was taken (staff only)."""
        if not self._for_staff() or attachment.taken_at is None:
            return None
        return serializers.DateTimeField().to_representation(attachment.taken_at)

    @extend_schema_field(PointSerializer(allow_null=True))
    def get_taken_location(self, attachment) -> dict | None:
        """Where the camera's GPS says the photo was taken, WGS-84 (staff only)."""
        point = attachment.taken_location
        return point_json(point) if self._for_staff() else None


class EventSerializer(ModelSerializer):
    actor = serializers.SerializerMethodField()
    photos = AttachmentSerializer(source="attachments", many=True)

    class Meta:
        model = CaseEvent
        fields = [
            "id", "action", "actor", "actor_role", "from_status", "to_status", "payload",
            "photos", "created_at",
        ]  # fmt: skip

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_actor(self, event: CaseEvent) -> str | None:
        return str(event.actor) if event.actor_id else None


class ContactSerializer(Serializer):
    name = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField()


class DirectiveSerializer(Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    message = serializers.CharField()
    due_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    is_overdue = serializers.BooleanField(
        help_text=_("Past its deadline and still open (marked by the deadline sweep).")
    )
    overdue_at = serializers.DateTimeField(allow_null=True)


class CandidateSerializer(Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()


class CaseDetailSerializer(CaseListSerializer):
    events = serializers.SerializerMethodField()
    photos = AttachmentSerializer(source="attachments", many=True)
    contact = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()
    directives = serializers.SerializerMethodField()
    duplicate_of = serializers.CharField(source="duplicate_of.number", allow_null=True)
    duplicate_candidates = serializers.SerializerMethodField()

    class Meta(CaseListSerializer.Meta):
        fields = [
            *CaseListSerializer.Meta.fields,
            "yellow_at", "stage_started_at", "satisfaction", "self_handled", "unrouted",
            "reject_reason", "duplicate_of", "return_count", "rework_count", "extension_count",
            "overdue_count", "contact", "photos", "directives", "actions",
            "duplicate_candidates", "events",
        ]  # fmt: skip

    # What a case's detail reads besides the case (prefetch_related_objects);
    # the serializer expects it loaded.
    PREFETCH = (
        Prefetch(
            "events", CaseEvent.objects.select_related("actor").prefetch_related("attachments")
        ),
        "attachments",
        Prefetch("directives", open_directives(), to_attr="open_directives"),
    )

    def _user(self):
        return self.context["request"].user

    @extend_schema_field(EventSerializer(many=True))
    def get_events(self, case: Case):
        return EventSerializer(case.events.all(), many=True, context=self.context).data

    @extend_schema_field(ContactSerializer)
    def get_contact(self, case: Case) -> dict:
        return contact_for(self._user(), case)

    def _actions(self, case: Case) -> list[str]:
        cache = self.context.setdefault("_actions", {})
        if (case.pk, case.version) not in cache:
            cache[(case.pk, case.version)] = case_actions(self._user(), case)
        return cache[(case.pk, case.version)]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_actions(self, case: Case) -> list[str]:
        return self._actions(case)

    @extend_schema_field(CandidateSerializer(many=True))
    def get_duplicate_candidates(self, case: Case):
        """Offered to whoever may merge the case, while it can be merged."""
        if "merge" not in self._actions(case):
            return []
        return CandidateSerializer(duplicate_candidates(case), many=True).data

    @extend_schema_field(DirectiveSerializer(many=True))
    def get_directives(self, case: Case):
        return DirectiveSerializer(case.open_directives, many=True).data


# --- Inputs --------------------------------------------------------------------------


class CodeField(serializers.SlugRelatedField):
    """A related object by its code. Text the database cannot hold (NUL, lone
    surrogates) names no object, instead of failing the query."""

    def to_internal_value(self, data):
        if isinstance(data, str) and unstorable_text(data):
            self.fail("does_not_exist", slug_name=self.slug_field, value=repr(data)[:40])
        return self.lookup(data)

    def lookup(self, data):
        """The object ``data`` names (never text the database cannot hold)."""
        return super().to_internal_value(data)


class CategoryCodeField(CodeField):
    """An active category by its code, from the per-process configuration
    cache (``active_category``) rather than a query per request."""

    citizens = False

    def __init__(self, **kwargs):
        queryset = Category.objects.for_citizens() if self.citizens else Category.objects.active()
        super().__init__(slug_field="code", queryset=queryset, **kwargs)

    def lookup(self, data):
        category = active_category(str(data), citizens=self.citizens)
        if category is None:
            self.fail("does_not_exist", slug_name=self.slug_field, value=str(data))
        return category


class DepartmentCodeField(CodeField):
    def __init__(self, **kwargs):
        super().__init__(
            slug_field="code", queryset=Department.objects.filter(is_active=True), **kwargs
        )


def photo_list(**kwargs):
    return serializers.ListField(
        child=serializers.FileField(), max_length=MAX_PHOTOS, required=False, default=list,
        **kwargs,
    )  # fmt: skip


class ReportInputSerializer(Serializer):
    """What every report gives: staff reports and citizens' tips."""

    description = serializers.CharField(max_length=limits.DESCRIPTION)
    lng = serializers.FloatField(
        min_value=-180,
        max_value=180,
        required=False,
        default=None,
        help_text=_("Omit lng and lat to use the GPS position recorded in the first photo."),
    )
    lat = serializers.FloatField(min_value=-90, max_value=90, required=False, default=None)
    crs = serializers.ChoiceField(choices=CoordinateSystem.choices, default=CoordinateSystem.WGS84)
    address = serializers.CharField(
        max_length=limits.ADDRESS, required=False, default="", allow_blank=True
    )
    photos = photo_list()
    attributes = serializers.DictField(
        required=False,
        default=dict,
        help_text=_(
            "Answers to the category's questions (see its Open311 service definition): "
            "code → value, or a list of keys; in multipart, fields named attributes.<code>."
        ),
    )
    client_uuid = serializers.CharField(
        max_length=limits.IDEMPOTENCY_KEY,
        required=False,
        help_text=_("Idempotency key, if the Idempotency-Key header cannot be sent."),
    )

    def validate(self, attrs):
        if (attrs["lng"] is None) != (attrs["lat"] is None):
            raise serializers.ValidationError(
                {"lat" if attrs["lat"] is None else "lng": _("Give both lng and lat, or neither.")}
            )
        return attrs


class CaseCreateSerializer(ReportInputSerializer):
    source = serializers.ChoiceField(choices=Source.choices, default=Source.GRID_WORKER)
    category = CategoryCodeField(required=False, allow_null=True, default=None)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False, default=None)
    reporter_name = serializers.CharField(
        max_length=limits.REPORTER_NAME, required=False, default=""
    )
    reporter_phone = serializers.CharField(
        max_length=limits.REPORTER_PHONE, required=False, default=""
    )
    reporter_email = serializers.EmailField(required=False, default="")
    self_handled = serializers.BooleanField(required=False, default=False)
    handling_photos = photo_list()


class VersionedSerializer(Serializer):
    expected_version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text=_("The case's version you saw; the action is refused if it changed since."),
    )


class NoteSerializer(VersionedSerializer):
    note = serializers.CharField(
        max_length=limits.NOTE, required=False, default="", allow_blank=True
    )


class ReasonSerializer(VersionedSerializer):
    reason = serializers.CharField(max_length=limits.NOTE)


class RegisterSerializer(NoteSerializer):
    category = CategoryCodeField(required=False, allow_null=True, default=None)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False, default=None)


class MergeSerializer(NoteSerializer):
    original = serializers.IntegerField(help_text=_("Id of the open case this one duplicates."))


class DispatchSerializer(NoteSerializer):
    department = DepartmentCodeField(required=False, allow_null=True, default=None)


class ExtensionRequestSerializer(ReasonSerializer):
    amount = serializers.IntegerField(min_value=1, max_value=1000)


class ReportBackSerializer(VersionedSerializer):
    note = serializers.CharField(max_length=limits.NOTE, help_text=_("Internal: staff only."))
    reply = serializers.CharField(
        max_length=limits.REPLY,
        required=False,
        default="",
        allow_blank=True,
        help_text=_(
            "Optional: the department's reply to the reporter, shown on the tip's "
            "tracking page and in the tips API (the note is never shown there)."
        ),
    )
    photos = photo_list()


class InspectSerializer(NoteSerializer):
    photos = photo_list()


class RateSerializer(VersionedSerializer):
    satisfaction = serializers.ChoiceField(choices=Satisfaction.choices)
    comment = serializers.CharField(
        max_length=limits.NOTE, required=False, default="", allow_blank=True
    )


class DirectiveInputSerializer(VersionedSerializer):
    message = serializers.CharField(max_length=limits.NOTE)
    due_at = serializers.DateTimeField()


class CohandlerSerializer(VersionedSerializer):
    department = DepartmentCodeField(required=False, allow_null=True, default=None)
    user = serializers.IntegerField(required=False, allow_null=True, default=None)


class CommentSerializer(VersionedSerializer):
    text = serializers.CharField(max_length=limits.NOTE)
    photos = photo_list()


class ActionOutcomeSerializer(Serializer):
    """What an action answers when the actor no longer sees the case in full
    after it: a handler who returned a case, a dispatcher who escalated one
    above their command level, a citizen who rated their own."""

    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    status_display = serializers.CharField()
    version = serializers.IntegerField()
    visible = serializers.BooleanField(
        help_text=_(
            "Whether GET /api/v1/cases/{id}/ still shows you the case (then as its public view)."
        )
    )

    @classmethod
    def of(cls, case: Case, *, visible: bool) -> dict:
        return cls(
            {
                "id": case.pk,
                "number": case.number,
                "status": case.status,
                "status_display": str(STATUS_LABELS.get(case.status, case.status)),
                "version": case.version,
                "visible": visible,
            }
        ).data


class ActionsSerializer(Serializer):
    actions = serializers.ListField(child=serializers.CharField())
