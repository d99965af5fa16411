"""Test settings: the same real PostGIS and Redis, faster hashing, private media."""

import tempfile

from .base import *
from .base import env

DEBUG = False
SECRET_KEY = "test-only-secret-key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = tempfile.mkdtemp(prefix="governance-test-media-")
STATIC_ROOT = tempfile.mkdtemp(prefix="governance-test-static-")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Tests must not depend on a collectstatic run.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Unit tests use the in-memory layer; tests of the Redis layer configure it themselves.
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
# Tests assert on English messages; the Chinese catalogue is tested explicitly.
LANGUAGE_CODE = "en"
# The citizen's short list of categories is counted afresh for each page: the
# cache outlives a test's rows.
CASES_CITIZEN_SHORTLIST_SECONDS = 0
# Tests of rate limiting set their own rates; everything else is not limited.
RATE_LIMITS = {"anonymous_ip": None, "token": None}
# Several test runs can share one server: give each its own database name.
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default="test_governance")}
# Threads of a test run (live servers, Channels) must not keep connections to
# the test database past their requests, or it cannot be dropped at the end.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
