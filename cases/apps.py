from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("Cases")

    def ready(self) -> None:
        from . import deadlines  # noqa: F401 - the calendar cache's invalidation receivers
        from .open311.publication import publication

        publication()  # a mistyped publication policy stops start-up
