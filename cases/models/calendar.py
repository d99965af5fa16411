"""The working calendar that deadlines in working time are computed on."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class CalendarYear(models.Model):
    """A year whose holidays and make-up working days are known. Deadlines
    are only computed inside years that have one.

    Where a year's days come from, best first (``cases.holidays``): the
    official schedule from the chinesecalendar package, the official schedule
    as the holidays package transcribes it, or a provisional schedule
    computed from the statutory holidays until the State Council publishes
    the year. A year an administrator edited is theirs: no load replaces it."""

    class Source(models.TextChoices):
        OFFICIAL = "official", _("official schedule (chinesecalendar package)")
        HOLIDAYS = "holidays", _("official schedule (holidays package)")
        PROVISIONAL = "provisional", _("provisional: statutory holidays, not yet published")
        MANUAL = "manual", _("entered by an administrator")

    year = models.PositiveSmallIntegerField(_("year"), primary_key=True)
    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    loaded_at = models.DateTimeField(_("loaded at"), auto_now=True)

    class Meta:
        verbose_name = _("calendar year")
        verbose_name_plural = _("calendar years")
        ordering = ["year"]

    def __str__(self) -> str:
        return str(self.year)

    @property
    def is_provisional(self) -> bool:
        return self.source == self.Source.PROVISIONAL


class CalendarDay(models.Model):
    """An exception to the Monday-to-Friday week: a public holiday (which may
    fall on a weekday) or a make-up working day (调休, usually a weekend)."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("public holiday")
        WORKDAY = "workday", _("make-up working day")

    date = models.DateField(_("date"), primary_key=True)
    year = models.ForeignKey(
        CalendarYear, verbose_name=_("year"), on_delete=models.CASCADE, related_name="days"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(date__year=F("year_id")),
                name="cases_calendarday_in_its_year",
                violation_error_message=_("The date is not in this calendar year."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {self.get_kind_display()} {self.name}".strip()


class WorkingPeriod(models.Model):
    """A daily working period; the default day is 08:30-12:00 and 13:30-17:30."""

    start = models.TimeField(_("start"))
    end = models.TimeField(_("end"))

    class Meta:
        verbose_name = _("working period")
        verbose_name_plural = _("working periods")
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")),
                name="cases_workingperiod_ends_after_start",
                violation_error_message=_("A working period ends after it starts."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"
