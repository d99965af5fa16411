from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """The demo city, its departments, one account per role and cases at every
    stage (``manage.py seed_demo_city``). Installed for development, tests and
    benchmarks; the production settings leave it out."""

    name = "demo"
    verbose_name = _("Demo data")
