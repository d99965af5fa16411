"""``migrate`` as the owner role: the schema is the owner's, the runtime role
gets its privileges after (core.dbroles)."""

from django.core.management.commands.migrate import Command as MigrateCommand

from core.dbroles import as_owner


class Command(MigrateCommand):
    def handle(self, *args, **options):
        with as_owner(options["database"]):
            return super().handle(*args, **options)
