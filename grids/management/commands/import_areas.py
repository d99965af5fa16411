"""Import area boundaries from a GeoJSON, Shapefile or other GDAL-readable file."""

from django.core.management.base import BaseCommand, CommandError

from grids.importing import ImportAborted, ImportFileError, import_areas


class Command(BaseCommand):
    help = (
        "Create or update areas by code from FILE (GeoJSON, Shapefile, GeoPackage... anything "
        "GDAL reads). Features need the attributes code, name and level; name_en and "
        "parent_code are optional. Rejected features are listed with the reason; when any "
        "is rejected nothing is imported, unless --skip-invalid."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--layer", help="import this layer only (default: every layer)")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="import the valid features even when others are rejected",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check and count, then roll back"
        )

    def handle(self, *args, file: str, layer, skip_invalid: bool, dry_run: bool, **options):
        try:
            report = import_areas(file, layer=layer, skip_invalid=skip_invalid, dry_run=dry_run)
        except (ImportFileError, ImportAborted) as exc:
            raise CommandError(str(exc)) from exc
        for rejection in report.rejected:
            self.stderr.write(f"rejected {rejection}")
        counts = (
            f"created {report.created}, updated {report.updated}, "
            f"unchanged {report.unchanged}, rejected {len(report.rejected)}"
        )
        if dry_run and (report.applied or skip_invalid or not report.rejected):
            self.stdout.write(f"Dry run, nothing written: {counts}")
        elif report.applied:
            self.stdout.write(self.style.SUCCESS(counts))
        else:
            raise CommandError(
                f"{len(report.rejected)} feature(s) rejected; nothing was imported "
                f"(would have: {counts}). Fix the file, or use --skip-invalid."
            )
