"""The default working day (08:30-12:00, 13:30-17:30) and the official
holiday schedule of every year the chinesecalendar package publishes."""

import datetime as dt

from django.db import migrations


def forwards(apps, schema_editor):
    import chinese_calendar
    from chinese_calendar.constants import Holiday

    WorkingPeriod = apps.get_model("cases", "WorkingPeriod")
    CalendarYear = apps.get_model("cases", "CalendarYear")
    CalendarDay = apps.get_model("cases", "CalendarDay")
    if not WorkingPeriod.objects.exists():
        WorkingPeriod.objects.bulk_create(
            [
                WorkingPeriod(start=dt.time(8, 30), end=dt.time(12, 0)),
                WorkingPeriod(start=dt.time(13, 30), end=dt.time(17, 30)),
            ]
        )
    chinese = {holiday.value: holiday.chinese for holiday in Holiday}
    years = sorted({day.year for day in chinese_calendar.holidays})
    existing = set(CalendarYear.objects.values_list("year", flat=True))
    CalendarYear.objects.bulk_create(
        [CalendarYear(year=year, source="package") for year in years if year not in existing]
    )
    CalendarDay.objects.bulk_create(
        [
            CalendarDay(date=day, year_id=day.year, kind=kind, name=chinese.get(name, name))
            for kind, source in (
                ("holiday", chinese_calendar.holidays),
                ("workday", chinese_calendar.workdays),
            )
            for day, name in source.items()
            if day.year not in existing
        ]
    )


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
