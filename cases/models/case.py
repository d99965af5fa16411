"""The case, its state machine, its append-only event log and what hangs off it.

The state machine is declared here; its transitions only change in-memory
fields. Every change goes through one service in ``cases.services`` that
locks the row, checks the actor, applies the transition, moves the deadline
clock, saves, records a ``CaseEvent`` and publishes after commit.

    reported ─send_to_verify─▶ verifying ─verify_pass/verify_fail─▶ reported   (核实 on site)
    reported ─register─▶ registered ─dispatch─▶ dispatched ─acknowledge─▶ in_progress
    in_progress ─report_back─▶ handled ─inspect_pass─▶ closed
    reported ─report_self_handled─▶ handled        (a grid worker fixed it on site)
    reported ─reject─▶ rejected                    (void)
    reported/registered ─merge_into─▶ rejected     (duplicate of an open case)
    registered/returned ─escalate─▶ registered     (one command level up)
    dispatched ─return─▶ returned ─dispatch─▶ dispatched
    in_progress ─approve_suspension─▶ suspended ─resume─▶ in_progress
    handled ─inspect_fail─▶ in_progress            (rework; registered when no department)
    closed ─reopen─▶ in_progress                   (registered when it had no department)
    closed ─rate (not satisfied)─▶ closed, reopen requested ─decline_reopen─▶ closed
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

from grids.models import Level

from .. import limits
from .categories import Stage, TimeUnit, Urgency


class Status(models.TextChoices):
    REPORTED = "reported", _("reported")
    VERIFYING = "verifying", _("being verified on site")
    REGISTERED = "registered", _("registered")
    REJECTED = "rejected", _("rejected")
    DISPATCHED = "dispatched", _("dispatched")
    RETURNED = "returned", _("returned")
    IN_PROGRESS = "in_progress", _("in progress")
    SUSPENDED = "suspended", _("suspended")
    HANDLED = "handled", _("handled")
    CLOSED = "closed", _("closed")


FINAL_STATUSES = (Status.REJECTED, Status.CLOSED)
OPEN_STATUSES = tuple(s for s in Status if s not in FINAL_STATUSES)

# The stage whose deadline runs in each status (suspended keeps handling's, paused).
STAGE_OF_STATUS = {
    Status.REPORTED: Stage.REGISTER,
    Status.VERIFYING: Stage.VERIFY,
    Status.REGISTERED: Stage.DISPATCH,
    Status.RETURNED: Stage.DISPATCH,
    Status.DISPATCHED: Stage.ACKNOWLEDGE,
    Status.IN_PROGRESS: Stage.HANDLE,
    Status.SUSPENDED: Stage.HANDLE,
    Status.HANDLED: Stage.INSPECT,
}


class Source(models.TextChoices):
    GRID_WORKER = "grid_worker", _("grid worker")
    CITIZEN = "citizen", _("citizen")
    HOTLINE = "hotline", _("12345 hotline")
    SENSOR = "sensor", _("sensor")


class Light(models.TextChoices):
    GREEN = "green", _("green")
    YELLOW = "yellow", _("yellow")
    RED = "red", _("red")


class Clock(models.TextChoices):
    NATURAL = "natural", _("natural time")
    WORKING = "working", _("working time")


class PendingRequest(models.TextChoices):
    NONE = "", _("none")
    EXTENSION = "extension", _("extension")
    SUSPENSION = "suspension", _("suspension")
    REOPEN = "reopen", _("reopening (the reporter is not satisfied)")


# The sources whose reports a grid worker verifies on site (核实) before
# registration: what a citizen or a hotline caller says has not been seen by staff.
TIP_SOURCES = ("citizen", "hotline")


class Verification(models.TextChoices):
    NONE = "", _("not verified")
    PASSED = "passed", _("verified: the problem is there")
    FAILED = "failed", _("not verified: not found or not as described")


class RejectReason(models.TextChoices):
    VOID = "void", _("void (not a case)")
    DUPLICATE = "duplicate", _("duplicate of another case")


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("satisfied")
    BASICALLY = "basically_satisfied", _("basically satisfied")
    UNSATISFIED = "unsatisfied", _("unsatisfied")


class Case(FSMModelMixin, models.Model):
    number = models.CharField(_("number"), max_length=20, unique=True, editable=False)
    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    category = models.ForeignKey(
        "cases.Category",
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
        help_text=_("Empty when a citizen was not sure; set at registration."),
    )
    description = models.TextField(_("description"), max_length=limits.DESCRIPTION)
    address = models.CharField(_("address"), max_length=limits.ADDRESS, blank=True)
    location = models.PointField(_("location"), srid=settings.GRIDS_SRID)

    # The grid and its ancestors, stored for filtering and rollups without joins.
    grid = models.ForeignKey(
        "grids.Area", verbose_name=_("grid"), on_delete=models.PROTECT, related_name="+"
    )
    community = models.ForeignKey(
        "grids.Area", verbose_name=_("community"), on_delete=models.PROTECT, related_name="+"
    )
    subdistrict = models.ForeignKey(
        "grids.Area", verbose_name=_("subdistrict"), on_delete=models.PROTECT, related_name="+"
    )
    district = models.ForeignKey(
        "grids.Area", verbose_name=_("district"), on_delete=models.PROTECT, related_name="+"
    )
    area_path = models.CharField(_("area path"), max_length=255, editable=False)
    command_level = models.PositiveSmallIntegerField(
        _("command level"),
        choices=[(lv.value, lv.label) for lv in Level if lv != Level.GRID],
        help_text=_("The command centre in charge: this level's area containing the case."),
    )

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reporter"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reported_cases",
    )
    reporter_name = models.CharField(
        _("reporter's name"), max_length=limits.REPORTER_NAME, blank=True
    )
    reporter_phone = models.CharField(
        _("reporter's phone"), max_length=limits.REPORTER_PHONE, blank=True
    )
    reporter_email = models.EmailField(_("reporter's email"), blank=True)

    urgency = models.CharField(
        _("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL
    )
    status = FSMField(
        _("status"), max_length=12, choices=Status.choices, default=Status.REPORTED, protected=True
    )
    department = models.ForeignKey(
        "organisation.Department",
        verbose_name=_("handling department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
    )
    routed_department = models.ForeignKey(
        "organisation.Department",
        verbose_name=_("department by routing"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    unrouted = models.BooleanField(
        _("unrouted"), default=False, help_text=_("No routing rule and no default department.")
    )

    # The deadline of the current stage. ``stage_limit`` and ``stage_paused``
    # are minutes on the stage's clock; the due time is the start plus both.
    stage = models.CharField(_("stage"), max_length=12, choices=Stage.choices, blank=True)
    stage_seq = models.PositiveIntegerField(_("stage number"), default=0)
    stage_unit = models.CharField(
        _("limit unit"), max_length=16, choices=TimeUnit.choices, blank=True
    )
    stage_clock = models.CharField(_("clock"), max_length=8, choices=Clock.choices, blank=True)
    stage_started_at = models.DateTimeField(_("stage started at"), null=True, blank=True)
    stage_limit = models.FloatField(_("stage limit (clock minutes)"), default=0)
    stage_paused = models.FloatField(_("clock minutes suspended"), default=0)
    yellow_at = models.DateTimeField(_("yellow at"), null=True, blank=True)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    light = models.CharField(_("light"), max_length=6, choices=Light.choices, blank=True)
    suspended_at = models.DateTimeField(_("suspended at"), null=True, blank=True)

    pending_request = models.CharField(
        _("pending request"), max_length=10, choices=PendingRequest.choices, blank=True, default=""
    )
    pending_extension = models.FloatField(_("extension requested (clock minutes)"), default=0)
    is_supervised = models.BooleanField(_("under supervision order"), default=False)
    self_handled = models.BooleanField(_("handled on site by the reporter"), default=False)
    verification = models.CharField(
        _("on-site verification (核实)"),
        max_length=8,
        choices=Verification.choices,
        blank=True,
        default="",
        help_text=_("The outcome of the last on-site verification of a tip."),
    )

    return_count = models.PositiveIntegerField(_("returns"), default=0)
    rework_count = models.PositiveIntegerField(_("reworks"), default=0)
    extension_count = models.PositiveIntegerField(_("extensions"), default=0)
    overdue_count = models.PositiveIntegerField(_("overdue stages"), default=0)

    reject_reason = models.CharField(
        _("reason rejected"), max_length=10, choices=RejectReason.choices, blank=True
    )
    duplicate_of = models.ForeignKey(
        "self",
        verbose_name=_("duplicate of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="duplicates",
    )
    satisfaction = models.CharField(
        _("satisfaction"), max_length=20, choices=Satisfaction.choices, blank=True
    )

    # Citizen tips: the secret a reporter without an account follows the tip by.
    tracking_token = models.CharField(
        _("tracking token"), max_length=43, unique=True, null=True, blank=True, editable=False
    )
    api_client = models.ForeignKey(
        "cases.ApiClient",
        verbose_name=_("submitted through"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
    )
    media_url = models.URLField(
        _("media link given by the reporter"), max_length=limits.MEDIA_URL, blank=True
    )
    attributes = models.JSONField(
        _("answers"),
        default=dict,
        blank=True,
        encoder=DjangoJSONEncoder,
    )
    # Safe resubmission: one case per (scope, key); a retry with the same key
    # returns this case. The fingerprint tells a retry from a different request.
    submission_scope = models.CharField(max_length=40, blank=True, editable=False)
    submission_key = models.CharField(max_length=limits.IDEMPOTENCY_KEY, blank=True, editable=False)
    submission_fingerprint = models.CharField(max_length=64, blank=True, editable=False)

    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("reported at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-created_at", "-id"]
        permissions = [("cohandle_case", _("Can co-handle the case"))]
        indexes = [
            # "Cases under this street" is area_path LIKE '/1/8/70/%'.
            models.Index(
                fields=["area_path"], name="cases_case_path_like", opclasses=["text_pattern_ops"]
            ),
            models.Index(fields=["department", "status"], name="cases_case_dept_status"),
            models.Index(fields=["status", "created_at"], name="cases_case_status_created"),
            models.Index(fields=["category", "created_at"], name="cases_case_category_created"),
            # The sweep: green cases whose yellow time passed, cases whose due time passed.
            models.Index(
                fields=["yellow_at"],
                name="cases_case_yellow_due",
                condition=Q(light="green", yellow_at__isnull=False),
            ),
            models.Index(
                fields=["due_at"],
                name="cases_case_red_due",
                condition=Q(light__in=["green", "yellow"], due_at__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["submission_scope", "submission_key"],
                condition=~Q(submission_key=""),
                name="cases_case_submitted_once",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @classmethod
    def from_db(cls, db, field_names, values):
        case = super().from_db(db, field_names, values)
        # The department as loaded: an event that moves the case away also
        # goes to the queue it left (cases.audience).
        case.department_at_load = case.__dict__.get("department_id")
        return case

    @property
    def is_open(self) -> bool:
        return self.status not in FINAL_STATUSES

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(x) for x in self.area_path.strip("/").split("/")]

    # Conditions: small predicates with a reason.

    def can_escalate(self) -> bool:
        return self.command_level > Level.CITY

    can_escalate.reason = _("The case is already at the city command centre.")

    def has_no_pending_request(self) -> bool:
        return not self.pending_request

    has_no_pending_request.reason = _("A request on this case is waiting for a decision.")

    def has_pending_extension(self) -> bool:
        return self.pending_request == PendingRequest.EXTENSION

    has_pending_extension.reason = _("No extension was requested.")

    def has_pending_suspension(self) -> bool:
        return self.pending_request == PendingRequest.SUSPENSION

    has_pending_suspension.reason = _("No suspension was requested.")

    def has_category(self) -> bool:
        return self.category_id is not None

    has_category.reason = _("The case has no category.")

    @property
    def reopen_until(self):
        """Until when a closed case may be reopened, and rated by its reporter."""
        if self.closed_at is None:
            return None
        return self.closed_at + timezone.timedelta(days=settings.CASES_REOPEN_DAYS)

    def reopen_window_open(self) -> bool:
        until = self.reopen_until
        return until is not None and timezone.now() <= until

    reopen_window_open.reason = _("The time allowed for reopening a closed case has passed.")

    def not_rated(self) -> bool:
        return not self.satisfaction

    not_rated.reason = _("The case has already been rated.")

    def rating_window_open(self) -> bool:
        return self.reopen_window_open()

    rating_window_open.reason = _("The time allowed for rating a closed case has passed.")

    def has_pending_reopen(self) -> bool:
        return self.pending_request == PendingRequest.REOPEN

    has_pending_reopen.reason = _("No one asked for this case to be reopened.")

    def may_reopen(self) -> bool:
        """Within the window; or after it, on the reporter's request made in
        time (rated "not satisfied" on its last day), until it is answered."""
        return self.reopen_window_open() or self.has_pending_reopen()

    may_reopen.reason = reopen_window_open.reason

    def is_tip(self) -> bool:
        return self.source in TIP_SOURCES

    is_tip.reason = _("Only a citizen's tip or a hotline report is verified on site.")

    # Transitions: they only change in-memory fields. Who may take them is not
    # declared here (no ``permission=``): the case services ask cases.policy,
    # the one place that decides it, so the model never imports the policy.

    @transition(field=status, source=Status.REPORTED, target=Status.REGISTERED)
    def register(self):
        pass

    @transition(field=status, source=Status.REPORTED, target=Status.VERIFYING, conditions=[is_tip])
    def send_to_verify(self):
        self.verification = Verification.NONE

    @transition(field=status, source=Status.VERIFYING, target=Status.REPORTED)
    def verify_pass(self):
        self.verification = Verification.PASSED

    @transition(field=status, source=Status.VERIFYING, target=Status.REPORTED)
    def verify_fail(self):
        self.verification = Verification.FAILED

    @transition(field=status, source=Status.VERIFYING, target=Status.REPORTED)
    def recall_verification(self):
        """The command centre takes a tip back unverified (no one can go, or
        it no longer needs a look): it registers or voids it itself."""

    @transition(field=status, source=[Status.REPORTED, Status.VERIFYING], target=Status.REJECTED)
    def reject(self):
        self.reject_reason = RejectReason.VOID

    @transition(
        field=status,
        source=[Status.REPORTED, Status.VERIFYING, Status.REGISTERED],
        target=Status.REJECTED,
    )
    def merge_into(self, *, original: Case):
        self.reject_reason = RejectReason.DUPLICATE
        self.duplicate_of = original

    @transition(field=status, source=Status.REPORTED, target=Status.HANDLED)
    def report_self_handled(self):
        self.self_handled = True

    @transition(
        field=status,
        source=[Status.REGISTERED, Status.RETURNED],
        target=Status.DISPATCHED,
        conditions=[has_category],
    )
    def dispatch(self, *, department):
        self.department = department

    @transition(
        field=status,
        source=[Status.REGISTERED, Status.RETURNED],
        target=Status.REGISTERED,
        conditions=[can_escalate],
    )
    def escalate(self):
        self.command_level -= 1
        self.department = None

    @transition(
        field=status,
        source=Status.DISPATCHED,
        target=Status.IN_PROGRESS,
    )
    def acknowledge(self):
        pass

    @transition(field=status, source=Status.DISPATCHED, target=Status.RETURNED)
    def return_case(self):
        self.return_count += 1
        self.department = None

    @transition(
        field=status,
        source=Status.IN_PROGRESS,
        target=Status.IN_PROGRESS,
        conditions=[has_no_pending_request],
    )
    def request_extension(self, *, minutes: float):
        self.pending_request = PendingRequest.EXTENSION
        self.pending_extension = minutes

    @transition(
        field=status,
        source=[Status.IN_PROGRESS, Status.SUSPENDED],
        target=RETURN_VALUE(Status.IN_PROGRESS, Status.SUSPENDED),
        conditions=[has_pending_extension],
    )
    def decide_extension(self, *, approve: bool):
        if approve:
            self.stage_limit += self.pending_extension
            self.extension_count += 1
        self.pending_request = PendingRequest.NONE
        self.pending_extension = 0
        return self.status

    @transition(
        field=status,
        source=Status.IN_PROGRESS,
        target=Status.IN_PROGRESS,
        conditions=[has_no_pending_request],
    )
    def request_suspension(self):
        self.pending_request = PendingRequest.SUSPENSION

    @transition(
        field=status,
        source=Status.IN_PROGRESS,
        target=Status.SUSPENDED,
        conditions=[has_pending_suspension],
    )
    def approve_suspension(self):
        self.pending_request = PendingRequest.NONE

    @transition(
        field=status,
        source=Status.IN_PROGRESS,
        target=Status.IN_PROGRESS,
        conditions=[has_pending_suspension],
    )
    def deny_suspension(self):
        self.pending_request = PendingRequest.NONE

    @transition(field=status, source=Status.SUSPENDED, target=Status.IN_PROGRESS)
    def resume(self):
        pass

    @transition(
        field=status,
        source=Status.IN_PROGRESS,
        target=Status.HANDLED,
    )
    def report_back(self):
        self.pending_request = PendingRequest.NONE
        self.pending_extension = 0

    @transition(field=status, source=Status.HANDLED, target=Status.CLOSED)
    def inspect_pass(self):
        self.closed_at = timezone.now()
        self.is_supervised = False

    @transition(
        field=status,
        source=Status.HANDLED,
        target=RETURN_VALUE(Status.IN_PROGRESS, Status.REGISTERED),
    )
    def inspect_fail(self):
        """Rework by the department; a case handled on the spot by its grid
        worker has none, so it goes to the command centre to dispatch."""
        self.rework_count += 1
        return Status.IN_PROGRESS if self.department_id else Status.REGISTERED

    @transition(
        field=status,
        source=Status.CLOSED,
        target=Status.CLOSED,
        conditions=[not_rated, rating_window_open],
    )
    def rate(self, *, satisfaction: str):
        self.satisfaction = satisfaction
        if satisfaction == Satisfaction.UNSATISFIED:
            self.pending_request = PendingRequest.REOPEN

    @transition(
        field=status,
        source=Status.CLOSED,
        target=Status.CLOSED,
        conditions=[has_pending_reopen],
    )
    def decline_reopen(self):
        self.pending_request = PendingRequest.NONE

    @transition(
        field=status,
        source=Status.CLOSED,
        target=RETURN_VALUE(Status.IN_PROGRESS, Status.REGISTERED),
        conditions=[may_reopen],
    )
    def reopen(self):
        self.closed_at = None
        self.satisfaction = ""
        self.pending_request = PendingRequest.NONE
        self.rework_count += 1
        return Status.IN_PROGRESS if self.department_id else Status.REGISTERED

    # Actions on any open case that do not move the status.

    @transition(
        field=status,
        source=list(OPEN_STATUSES),
        target=RETURN_VALUE(*OPEN_STATUSES),
    )
    def remind(self):
        return self.status

    @transition(
        field=status,
        source=list(OPEN_STATUSES),
        target=RETURN_VALUE(*OPEN_STATUSES),
    )
    def supervise(self):
        self.is_supervised = True
        return self.status

    @transition(
        field=status,
        source=list(OPEN_STATUSES),
        target=RETURN_VALUE(*OPEN_STATUSES),
    )
    def add_cohandler(self):
        return self.status

    @transition(field=status, source=list(Status), target=RETURN_VALUE(*Status))
    def comment(self):
        return self.status


class CaseEvent(models.Model):
    """One step in a case's history. Append-only: the application's database
    role may only SELECT and INSERT it (core.dbroles), and a trigger
    (migration 0004) refuses every UPDATE and DELETE even to the owner.

    Ids increase in commit order (migration 0006): an event's id is drawn
    under a lock held until its transaction ends, so once a reader sees event
    N, every event below N that will ever exist is visible too. That makes
    "events since id N" exact for clients that resync."""

    # The runtime database role gets SELECT and INSERT only (core.dbroles).
    append_only = True

    id = models.BigAutoField(primary_key=True)
    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="events"
    )
    action = models.CharField(_("action"), max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty for the system (the deadline sweep)."),
    )
    actor_role = models.CharField(_("acting as"), max_length=20, blank=True)
    from_status = models.CharField(_("from"), max_length=12, choices=Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=12, choices=Status.choices)
    payload = models.JSONField(_("details"), default=dict, encoder=DjangoJSONEncoder)
    # The live groups the event went to (cases.audience), so that "events
    # since N" replays to each user exactly what their groups were sent.
    audience = ArrayField(
        models.CharField(max_length=32), verbose_name=_("audience"), default=list, editable=False
    )
    # Set on events the sweep writes: one per case, stage and threshold.
    dedupe_key = models.CharField(max_length=64, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["case", "id"], name="cases_event_case_id"),
            GinIndex(fields=["audience"], name="cases_event_audience"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=Q(dedupe_key__isnull=False),
                name="cases_event_dedupe",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} #{self.id} {self.action}"


class AttachmentKind(models.TextChoices):
    REPORT = "report", _("report photo")
    VERIFICATION = "verify", _("verification photo")
    HANDLING = "handling", _("handling photo")
    INSPECTION = "inspection", _("inspection photo")


class CaseAttachment(models.Model):
    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="attachments"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=AttachmentKind.choices)
    # The stored photo is re-encoded from the upload without its metadata
    # (EXIF, XMP, comments): nothing stored carries the phone's GPS or serial.
    file = models.ImageField(_("photo"), upload_to="cases/%Y/%m/")
    thumbnail = models.ImageField(_("thumbnail"), upload_to="cases/thumbs/%Y/%m/", blank=True)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    source_format = models.CharField(_("uploaded format"), max_length=8, blank=True)
    # Read from the upload's EXIF before it was stripped; staff only.
    taken_at = models.DateTimeField(_("taken at (camera)"), null=True, blank=True)
    taken_location = models.PointField(
        _("taken at (camera GPS)"), srid=settings.GRIDS_SRID, null=True, blank=True
    )
    sha256 = models.CharField(_("SHA-256 of the upload"), max_length=64, blank=True)
    event = models.ForeignKey(
        CaseEvent,
        verbose_name=_("event"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="attachments",
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        ordering = ["id"]
        # The orphan cleanup (cases.photo_orphans) looks stored names up.
        indexes = [
            models.Index(fields=["file"], name="cases_attachment_file"),
            models.Index(fields=["thumbnail"], name="cases_attachment_thumbnail"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.get_kind_display()}"


class DirectiveKind(models.TextChoices):
    REMINDER = "reminder", _("reminder (催办)")
    SUPERVISION = "supervision", _("supervision order (督办)")


class CaseDirective(models.Model):
    """A reminder or supervision order on an open case, with its own deadline.
    It is settled when the case is handled or closed."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="directives"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=DirectiveKind.choices)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issued by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty when the deadline sweep issued it."),
    )
    message = models.TextField(_("message"), max_length=limits.NOTE, blank=True)
    due_at = models.DateTimeField(_("due at"))
    created_at = models.DateTimeField(_("issued at"), default=timezone.now)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    overdue_at = models.DateTimeField(
        _("overdue since"),
        null=True,
        blank=True,
        help_text=_("When the deadline sweep found it past its deadline, still unsettled."),
    )

    class Meta:
        verbose_name = _("reminder or supervision order")
        verbose_name_plural = _("reminders and supervision orders")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["case"], name="cases_directive_open", condition=Q(settled_at__isnull=True)
            ),
            # The sweep: open directives not yet marked overdue, by deadline.
            # A marked or settled one leaves the index, so a re-run finds nothing.
            models.Index(
                fields=["due_at"],
                name="cases_directive_due",
                condition=Q(settled_at__isnull=True, overdue_at__isnull=True),
            ),
        ]

    @property
    def is_overdue(self) -> bool:
        return self.overdue_at is not None

    def __str__(self) -> str:
        return f"{self.case_id} {self.get_kind_display()}"


class CaseFollower(models.Model):
    """Someone who hears about a case: its reporter, and the reporters of the
    duplicates merged into it."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="followers"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="followed_cases",
    )
    name = models.CharField(_("name"), max_length=limits.REPORTER_NAME, blank=True)
    phone = models.CharField(_("phone"), max_length=limits.REPORTER_PHONE, blank=True)
    email = models.EmailField(_("email"), blank=True)
    via = models.ForeignKey(
        Case,
        verbose_name=_("merged from"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("since"), default=timezone.now)

    class Meta:
        verbose_name = _("follower")
        verbose_name_plural = _("followers")
        constraints = [
            models.UniqueConstraint(
                fields=["case", "user"],
                condition=Q(user__isnull=False),
                name="cases_follower_user_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} ← {self.user or self.name or self.phone}"
