"""What the site calls itself, on its pages and in the messages it sends."""

from django.utils.translation import gettext_lazy as _

SITE_TITLE = _("Urban governance command centre")
