"""WSGI entry point, for tools that need one. The system is served over ASGI
(governance/asgi.py), which runs this same handler for HTTP."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings.production")

application = get_wsgi_application()
