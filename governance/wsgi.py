"""WSGI entry point: every HTTP request, served by gunicorn behind nginx
(deploy/gunicorn.conf.py, governance/stack.py). Requests that waited too
long in the queue are shed before Django runs them (governance/load_shedding.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings.production")

django_application = get_wsgi_application()

from governance.load_shedding import ShedLateRequests  # noqa: E402

application = ShedLateRequests(django_application)
