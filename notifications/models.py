"""Notifications: one row per person (or address) and channel for each case
event that concerns them.

A row is written in the transaction of the action that caused it (so it
exists exactly when the event does) and

* ``inbox``: shown in the person's in-app inbox until read (``read_at``),
  and pushed live to their ``user.<id>`` group after commit;
* ``email`` / ``sms``: delivered after commit through the configured
  backend; ``sent_at`` once delivered, ``attempts`` and ``last_error`` while
  it fails (a periodic catch-up retries a bounded number of times).

A row names a user (``recipient``) or, for a citizen who left contact details
but has no account, only an ``address``; email and SMS rows for a user keep
the address they were sent to.

A digest is one row per person, kind and channel for one run of the
deadline sweep: it names no event or case, but ``count`` cases (lights that
turned yellow or red, escalations and supervision orders by the sweep,
overdue reminders and orders) and ``link``, the case list filtered to them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    INBOX = "inbox", _("in-app inbox")
    EMAIL = "email", _("email")
    SMS = "sms", _("SMS")


OUTGOING = (Channel.EMAIL, Channel.SMS)


class Kind(models.TextChoices):
    DISPATCH = "dispatch", _("case dispatched to the department")
    RETURN = "return", _("case returned by the department")
    REWORK = "rework", _("case back for more work")
    REMINDER = "reminder", _("reminder (催办)")
    SUPERVISION = "supervision", _("supervision order (督办)")
    YELLOW = "yellow", _("deadline near (yellow)")
    RED = "red", _("overdue (red)")
    ESCALATION = "escalation", _("case escalated to the command centre")
    CLOSURE = "closure", _("case closed")
    TIP_STATUS = "tip_status", _("progress of a reported problem")
    # To administrators, about no case: next year's working calendar is only
    # provisional (written from 1 October, for the year after it was written).
    CALENDAR = "calendar", _("working calendar provisional")
    DIRECTIVE_LATE = "directive_late", _("reminder or supervision order overdue")
    VERIFY = "verify", _("tip to verify on site (核实)")
    REOPEN_REQUEST = "reopen_request", _("reporter not satisfied: reopening asked")


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        help_text=_("Empty for a citizen without an account: see the address."),
    )
    address = models.CharField(
        _("address"),
        max_length=254,
        blank=True,
        help_text=_("The email address or phone number an email or SMS goes to."),
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    event = models.ForeignKey(
        "cases.CaseEvent",
        verbose_name=_("event"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notifications",
        help_text=_("Empty for a digest of the deadline sweep or a notice about no case."),
    )
    case = models.ForeignKey(
        "cases.Case",
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notifications",
        help_text=_("Empty for a digest of the deadline sweep or a notice about no case."),
    )
    count = models.PositiveIntegerField(
        _("cases"), default=1, help_text=_("How many cases a digest is about.")
    )
    link = models.CharField(
        _("link"),
        max_length=300,
        blank=True,
        help_text=_("A digest's case list, filtered to what it is about."),
    )
    language = models.CharField(_("language"), max_length=10)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("delivery attempts"), default=0)
    attempted_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            # A person's inbox, newest first; and the unread part of it (the
            # badge count and ?unread=true), which stays small.
            models.Index(
                fields=["recipient", "-created_at", "-id"],
                name="notif_inbox",
                condition=Q(channel="inbox"),
            ),
            models.Index(
                fields=["recipient", "-created_at", "-id"],
                name="notif_inbox_unread",
                condition=Q(channel="inbox", read_at__isnull=True),
            ),
            # The delivery catch-up: emails and SMS not sent yet.
            models.Index(
                fields=["created_at"],
                name="notif_undelivered",
                condition=Q(channel__in=["email", "sms"], sent_at__isnull=True),
            ),
        ]
        constraints = [
            # A replayed event does not notify anyone twice.
            models.UniqueConstraint(
                fields=["event", "recipient", "channel"],
                condition=Q(recipient__isnull=False),
                name="notif_once_per_recipient",
            ),
            models.UniqueConstraint(
                fields=["event", "address", "channel"],
                condition=Q(recipient__isnull=True),
                name="notif_once_per_address",
            ),
            models.CheckConstraint(
                condition=(
                    Q(channel="inbox", recipient__isnull=False, address="")
                    | (Q(channel__in=["email", "sms"]) & ~Q(address=""))
                ),
                name="notif_channel_target",
                violation_error_message=_(
                    "An inbox notification needs a recipient; an email or SMS an address."
                ),
            ),
            # One case event; or, naming neither, a digest of the sweep or a
            # notice about no case (kind calendar), to a person.
            models.CheckConstraint(
                condition=Q(event__isnull=False, case__isnull=False)
                | Q(event__isnull=True, case__isnull=True, recipient__isnull=False),
                name="notif_event_or_digest",
            ),
        ]

    def __str__(self) -> str:
        target = self.recipient_id or self.address
        return f"{self.get_kind_display()} · {self.get_channel_display()} · {target}"

    @property
    def is_digest(self) -> bool:
        """A digest of the deadline sweep (no event, a kind the sweep digests)."""
        from .rules import digest_kinds

        return self.event_id is None and self.kind in digest_kinds()

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class DigestMark(models.Model):
    """How far the sweep's digests have read the event log: the id of the
    last event digested. One row. Event ids are drawn in commit order (cases
    migration 0006), so the events after it are exactly those not digested
    yet, including a run's whose digest a dying worker never wrote."""

    last_event_id = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("digest mark")
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="notif_digest_mark_single"),
        ]

    def __str__(self) -> str:
        return f"digested up to event {self.last_event_id}"
