"""Load the official public holidays and make-up working days."""

from django.core.management.base import BaseCommand, CommandError

from cases.holidays import calendar_load_official, published_years


class Command(BaseCommand):
    help = (
        "Load the official holiday schedule (public holidays and make-up working days) for "
        "every year the chinesecalendar package publishes, or for the given years. Years "
        "entered by hand are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("years", nargs="*", type=int, metavar="YEAR")

    def handle(self, *args, years: list[int], **options):
        available = published_years()
        missing = sorted(set(years) - set(available))
        if missing:
            raise CommandError(
                f"No official schedule is published for {', '.join(map(str, missing))} "
                f"(available: {available[0]}-{available[-1]}); add it in the admin."
            )
        loaded = calendar_load_official(years=years or None)
        self.stdout.write(
            f"Loaded {len(loaded)} year(s): {loaded[0]}-{loaded[-1]}"
            if loaded
            else "Nothing to load."
        )
