"""Write the answers nginx gives itself (core/gateway_errors.py) as files."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from core.gateway_errors import render_gateway_errors


class Command(BaseCommand):
    help = "Write nginx's own error answers (413, 502, 503, 504), JSON and HTML, per language."

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            type=Path,
            required=True,
            help="the folder nginx serves them from (governance/stack.py: its prefix)",
        )

    def handle(self, *args, output: Path, **options):
        written = render_gateway_errors(output)
        self.stdout.write(f"{len(written)} files in {output}")
