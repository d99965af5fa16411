"""Load public holidays and make-up working days from the best source of each year."""

from django.core.management.base import BaseCommand, CommandError

from cases.holidays import CALENDAR_YEARS, calendar_load


class Command(BaseCommand):
    help = (
        "Store each year's public holidays and make-up working days from its best source "
        "(the chinesecalendar package, then the holidays package, then a provisional "
        "schedule of the statutory holidays), for the given years or every year "
        f"{CALENDAR_YEARS[0]}-{CALENDAR_YEARS[-1]}. Years entered by hand are kept; open "
        "deadlines in a year whose days change are placed again."
    )

    def add_arguments(self, parser):
        parser.add_argument("years", nargs="*", type=int, metavar="YEAR")

    def handle(self, *args, years: list[int], **options):
        outside = sorted(set(years) - set(CALENDAR_YEARS))
        if outside:
            raise CommandError(
                f"{', '.join(map(str, outside))}: only {CALENDAR_YEARS[0]}-{CALENDAR_YEARS[-1]} "
                "can be loaded; add other years in the admin."
            )
        loaded = calendar_load(years=years or None)
        if not loaded:
            self.stdout.write("Nothing to load: every year is up to date.")
        for year, source in sorted(loaded.items()):
            self.stdout.write(f"{year}: {source}")
