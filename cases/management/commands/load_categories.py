from django.core.management.base import BaseCommand

from cases.categories import load_standard_categories


class Command(BaseCommand):
    help = (
        "Load the standard case categories (GB/T 30428.2), their deadline rules and the "
        "overdue policy where missing, and set each category's standard default department "
        "where a department with that code exists. Rows edited by administrators are kept."
    )

    def handle(self, *args, **options):
        result = load_standard_categories()
        self.stdout.write(
            f"{result.classes} major classes; {result.categories_created} categories created; "
            f"{result.defaults_set} default departments set."
        )
