"""Deployment checks (``manage.py check --deploy``): a photo store that
would let anyone read internal photos by their storage URL."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")


@checks.register(checks.Tags.security, deploy=True)
def check_photo_storage(app_configs, **kwargs):
    storage = settings.STORAGES["default"]
    if not storage["BACKEND"].startswith("storages.backends.s3"):
        return []
    options = storage.get("OPTIONS", {})
    problems = []
    if not options.get("querystring_auth", True):
        problems.append("querystring_auth is off: photo URLs would not be signed")
    if options.get("default_acl") in PUBLIC_ACLS:
        problems.append(f"default_acl is {options['default_acl']}: anyone could read photos")
    return [
        checks.Error(
            f"MEDIA_STORAGE_OPTIONS: {problem}.",
            hint="Keep the bucket private (see docs/api.md, Photos).",
            id="cases.E001",
        )
        for problem in problems
    ]
