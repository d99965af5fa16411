from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self):
        from cases.publishing import case_event_committed, case_events_committed

        from . import live

        case_event_committed.connect(live.push_case_event, dispatch_uid="notifications.live")
        case_events_committed.connect(live.push_case_events, dispatch_uid="notifications.live_many")

        from . import access

        access.connect()  # live connections follow their user's access

        from . import checks, receivers  # noqa: F401 - system checks; stores notifications
