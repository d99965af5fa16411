"""Calendar years record where their days come from (official, holidays,
provisional, manual); years loaded from chinesecalendar keep their days as
``official``, and every other year of 2000-2099 is stored from its best
source (cases.holidays), so that no deadline in the century lacks a calendar."""

from django.db import migrations, models


def forwards(apps, schema_editor):
    from cases.holidays import CALENDAR_YEARS, best_schedule

    CalendarYear = apps.get_model("cases", "CalendarYear")
    CalendarDay = apps.get_model("cases", "CalendarDay")
    CalendarYear.objects.filter(source="package").update(source="official")
    existing = set(CalendarYear.objects.values_list("year", flat=True))
    schedules = [best_schedule(year) for year in CALENDAR_YEARS if year not in existing]
    CalendarYear.objects.bulk_create(
        [CalendarYear(year=s.year, source=s.source) for s in schedules]
    )
    CalendarDay.objects.bulk_create(
        [
            CalendarDay(date=date, year_id=s.year, kind=kind, name=name)
            for s in schedules
            for kind, days in (("holiday", s.holidays), ("workday", s.workdays))
            for date, name in days.items()
        ]
    )


def backwards(apps, schema_editor):
    CalendarYear = apps.get_model("cases", "CalendarYear")
    CalendarYear.objects.filter(source="official").update(source="package")
    CalendarYear.objects.filter(source__in=["holidays", "provisional"]).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0007_attachment_file_indexes")]

    operations = [
        migrations.AlterField(
            model_name="calendaryear",
            name="source",
            field=models.CharField(
                choices=[
                    ("official", "official schedule (chinesecalendar package)"),
                    ("holidays", "official schedule (holidays package)"),
                    ("provisional", "provisional: statutory holidays, not yet published"),
                    ("manual", "entered by an administrator"),
                ],
                max_length=12,
                verbose_name="source",
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
