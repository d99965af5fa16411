"""HTTP through Django's WSGI handler inside the ASGI application."""

from __future__ import annotations

import tempfile

from django.conf import settings

READ_SIZE = 64 * 1024


class ChunkedBodies:
    """WSGI middleware: a request body sent chunked (no Content-Length) is
    read to its end and handed on with its length.

    Django's WSGI request reads as many bytes as Content-Length says, so a
    chunked body, which phones' HTTP stacks send for streamed uploads, would
    read as empty. The body is spooled as Django's ASGI handler spools one:
    in memory up to FILE_UPLOAD_MAX_MEMORY_SIZE, then in a temporary file.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not chunked or environ.get("CONTENT_LENGTH"):
            return self.app(environ, start_response)
        with tempfile.SpooledTemporaryFile(settings.FILE_UPLOAD_MAX_MEMORY_SIZE) as body:
            stream = environ["wsgi.input"]
            while chunk := stream.read(READ_SIZE):
                body.write(chunk)
            environ["CONTENT_LENGTH"] = str(body.tell())
            body.seek(0)
            environ["wsgi.input"] = body
            # Django has read and parsed the body by the time it returns.
            return self.app(environ, start_response)
