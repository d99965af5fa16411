"""Report children outside their parent, overlapping areas and gaps."""

import math
import time

from django.core.management.base import BaseCommand, CommandError

from grids.models import Area
from grids.topology import check_topology


class Command(BaseCommand):
    help = (
        "Check the area tree: children outside their parent, overlapping areas of one "
        "level, and parts of an area covered by none of its children. Exits non-zero "
        "when a problem is found."
    )

    def add_arguments(self, parser):
        parser.add_argument("--root", metavar="CODE", help="check only under this area")
        parser.add_argument(
            "--tolerance",
            type=float,
            default=1.0,
            metavar="M2",
            help="ignore slivers up to this many square metres (default 1)",
        )

    def handle(self, *args, root: str | None, tolerance: float, **options):
        if not math.isfinite(tolerance) or tolerance < 0:
            raise CommandError("--tolerance must be a non-negative number of square metres")
        area = None
        if root:
            area = Area.objects.without_geometry().filter(code=root).first()
            if area is None:
                raise CommandError(f"No area has code {root}.")
        started = time.perf_counter()
        problems = check_topology(root=area, tolerance_m2=tolerance)
        elapsed = time.perf_counter() - started
        for problem in problems:
            self.stdout.write(f"{problem.kind:<15} {problem.describe()}")
        scope = f"under {area}" if area else "in the whole tree"
        if problems:
            raise CommandError(f"{len(problems)} topology problem(s) {scope} ({elapsed:.1f} s).")
        self.stdout.write(self.style.SUCCESS(f"No topology problems {scope} ({elapsed:.1f} s)."))
