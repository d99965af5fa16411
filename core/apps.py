from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _grant_after_migrate(sender, using, plan=None, **kwargs):
    # ``flush`` sends post_migrate too, without a plan: privileges are unchanged.
    if plan is not None:
        from .dbroles import grant_runtime_privileges

        grant_runtime_privileges(using=using)


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self):
        from . import checks  # noqa: F401 - the runtime role and Redis settings checks

        post_migrate.connect(_grant_after_migrate, sender=self)
