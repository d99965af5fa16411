"""Systems that submit citizen reports on their own key (Open311 clients)."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_api_key() -> str:
    return secrets.token_urlsafe(32)


class ApiClient(models.Model):
    """An application that posts service requests with an ``api_key``: a
    citizen app, a WeChat mini program, a partner 311 client."""

    name = models.CharField(_("name"), max_length=100)
    api_key = models.CharField(_("API key"), max_length=64, unique=True, default=new_api_key)
    contact_email = models.EmailField(_("contact email"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
