"""The Celery application: broker on Redis, tasks discovered from the apps."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings.production")

app = Celery("governance")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _forget_inherited_pool(**_kwargs):
    """A prefork worker child must not use a connection pool its parent may
    have opened (its threads and sockets stay the parent's): start afresh."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        pools = getattr(type(connection), "_connection_pools", None)
        if pools is not None:
            pools.pop(connection.alias, None)
