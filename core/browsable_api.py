"""DRF's browsable API under the Content-Security-Policy.

Its pages are DRF's templates: their one <style> element carries the
request's nonce (templates/rest_framework/api.html), and the style
attributes its forms and buttons use are allowed on these pages only
(``style-src-attr 'unsafe-inline'``; styles cannot run script, and every
other page keeps ``style-src 'self'``)."""

from __future__ import annotations

from csp.constants import UNSAFE_INLINE
from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response._csp_update = {"style-src-attr": [UNSAFE_INLINE]}
        return super().render(data, accepted_media_type, renderer_context)
