"""The official holiday schedule, from the maintained chinesecalendar package.

The State Council publishes each year's public holidays and make-up working
days (调休) late in the previous year; the package follows it. Years it does
not cover yet must be entered by an administrator.
"""

from __future__ import annotations

import chinese_calendar
from chinese_calendar.constants import Holiday
from django.db import transaction

from .models import CalendarDay, CalendarYear

_CHINESE_NAMES = {holiday.value: holiday.chinese for holiday in Holiday}


def published_years() -> list[int]:
    return sorted({day.year for day in chinese_calendar.holidays})


@transaction.atomic
def calendar_load_official(*, years: list[int] | None = None) -> list[int]:
    """Load (or reload) the official schedule for ``years`` (all published
    years when None). Years an administrator entered by hand are left alone.
    Returns the years loaded."""
    available = set(published_years())
    wanted = available if years is None else set(years) & available
    manual = set(
        CalendarYear.objects.filter(year__in=wanted, source=CalendarYear.Source.MANUAL).values_list(
            "year", flat=True
        )
    )
    loaded = sorted(wanted - manual)
    for year in loaded:
        CalendarYear.objects.update_or_create(
            year=year, defaults={"source": CalendarYear.Source.PACKAGE}
        )
    CalendarDay.objects.filter(year_id__in=loaded).delete()
    rows = [
        CalendarDay(date=day, year_id=day.year, kind=kind, name=_CHINESE_NAMES.get(name, name))
        for kind, source in (
            (CalendarDay.Kind.HOLIDAY, chinese_calendar.holidays),
            (CalendarDay.Kind.WORKDAY, chinese_calendar.workdays),
        )
        for day, name in source.items()
        if day.year in loaded
    ]
    CalendarDay.objects.bulk_create(rows)
    return loaded
