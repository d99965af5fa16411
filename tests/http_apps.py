"""WSGI applications for tests/test_http.py that worker processes of
governance.http.WSGIOnProcesses import by name ("tests.http_apps:echo")."""

import json
import os
import time
from urllib.parse import parse_qs

served = 0  # requests this process has run


def echo(environ, start_response):
    """The body back, with what the application saw of the request."""
    global served
    served += 1
    body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    query = parse_qs(environ["QUERY_STRING"])
    if "die" in query:
        os._exit(1)
    time.sleep(float(query.get("sleep", ["0"])[0]))
    seen = {k: v for k, v in environ.items() if isinstance(v, str)}
    seen.update(pid=os.getpid(), served=served)
    start_response(
        "201 Created",
        [("Content-Type", "text/plain"), ("X-Seen", json.dumps(seen, ensure_ascii=True))],
    )
    return [b"got ", body]
