"""HTTP middleware: which live connection a request comes from.

A client that holds a live connection sends its ``connection_id`` in the
``X-Live-Connection`` header of its REST requests; the events those requests
cause are then not pushed back to that connection (cases.publishing.origin).
Sync and async, so it adds no thread hop under ASGI.
"""

from __future__ import annotations

import re

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from cases.publishing import origin

_CONNECTION_ID = re.compile(r"[0-9a-f]{32}")


def _connection(request) -> str:
    value = request.headers.get("X-Live-Connection", "")
    return value if _CONNECTION_ID.fullmatch(value) else ""


class LiveOriginMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        with origin(_connection(request)):
            return self.get_response(request)

    async def _acall(self, request):
        with origin(_connection(request)):
            return await self.get_response(request)
