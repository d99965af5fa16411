"""Build the demo city (Changzhou scale), its departments and demo users."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cases.categories import load_standard_categories
from demo import city as demo_city
from demo.cases import create_demo_cases, create_demo_open311
from demo.users import create_demo_users
from grids.models import Area
from organisation.demo_accounts import DEMO_PASSWORD


class Command(BaseCommand):
    help = (
        "Create the demo city: 7 districts, 62 subdistricts, 1,030 communities and 5,891 "
        "grids, 22 departments and one demo user per role. Does nothing when the city is "
        "already complete; --reset rebuilds it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="delete and rebuild the city")
        parser.add_argument("--seed", type=int, default=2026, help="random seed of the layout")
        parser.add_argument(
            "--cases",
            action="store_true",
            help="also file demo cases at every stage of the loop (when there are none yet)",
        )

    def handle(self, *args, reset: bool, seed: int, cases: bool, **options):
        if not settings.DEMO_DATA_ALLOWED:
            raise CommandError(
                "Demo data is not allowed with these settings (DEMO_DATA_ALLOWED is off, "
                "as in production): the demo accounts share a published password."
            )
        started = time.perf_counter()
        with transaction.atomic():
            if reset:
                try:
                    demo_city.delete_demo_city()
                except demo_city.DemoCityInUse as exc:
                    raise CommandError(str(exc)) from exc
            if demo_city.demo_city_present():
                city = Area.objects.get(code=demo_city.CITY[0])
                self.stdout.write("Demo city already present.")
            elif Area.objects.filter(code=demo_city.CITY[0]).exists():
                raise CommandError(
                    f"Area {demo_city.CITY[0]} exists but is not the complete demo city; "
                    "it is left alone. Use --reset to replace it with the demo city."
                )
            else:
                city = demo_city.create_demo_city(seed)
            logins = create_demo_users(city)
            categories = load_standard_categories()
            demo_cases = create_demo_cases() if cases else 0
            api_key = create_demo_open311()
        per_level = Area.objects.subtree(city).level_counts()
        summary = ", ".join(f"{n} {label}" for label, n in per_level.items())
        self.stdout.write(f"{city.name} ({city.code}): {summary}")
        self.stdout.write(
            f"Categories: {categories.categories_created} created, "
            f"{categories.defaults_set} default departments set."
        )
        if demo_cases:
            self.stdout.write(f"Demo cases: {demo_cases} at every stage of the loop.")
        self.stdout.write(f"Done in {time.perf_counter() - started:.1f} s.")
        self.stdout.write(f"Demo logins (password {DEMO_PASSWORD}):")
        for login in logins:
            scope = f" - {login.scope}" if login.scope else ""
            self.stdout.write(f"  {login.username:<12} {login.role}{scope}")
        self.stdout.write(f"Open311 api_key of the demo citizen app: {api_key}")
