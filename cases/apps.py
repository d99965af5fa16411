from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("Cases")

    def ready(self) -> None:
        from . import checks, deadlines  # noqa: F401 - system checks; the calendar cache's receivers
        from .open311.publication import publication

        publication()  # a mistyped publication policy stops start-up
