"""gunicorn's configuration: HTTP of governance.wsgi behind nginx.

    gunicorn -c deploy/gunicorn.conf.py --bind 127.0.0.1:8001 governance.wsgi:application

(governance/stack.py starts it so for bin/run, the tests and the benchmarks;
deploy/systemd/governance-gunicorn.service in production.)

Sync workers, one request at a time each: the requests are CPU-bound Python
with short database waits, and nginx in front buffers slow clients' bodies
and responses, which is what sync workers need. The application is loaded
once in the master (``preload_app``) and shared copy-on-write by the
workers; ``gc.freeze()`` keeps the garbage collector from touching (and so
copying) those shared pages. Each worker warms up (``post_fork``) before it
takes a request, so that the first ones do not pay for imports, the
translation catalogues and the database connection.

Environment: GUNICORN_WORKERS (default: 2 per CPU), GUNICORN_TIMEOUT
(seconds, 30), GUNICORN_MAX_REQUESTS (2000) and GUNICORN_MAX_REQUESTS_JITTER
(200): a worker is replaced after that many requests, at staggered times.
"""

import gc
import io
import os
import sys

worker_class = "sync"
workers = int(os.environ.get("GUNICORN_WORKERS") or 2 * len(os.sched_getaffinity(0)))
preload_app = True
# A request running longer than this is killed with its worker (nginx's
# proxy_read_timeout waits a little longer, and answers 504).
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)
graceful_timeout = 30
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS") or 2000)
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER") or 200)
# Headers and the request line are bounded here; the body by nginx's
# client_max_body_size and Django's DATA_UPLOAD_MAX_MEMORY_SIZE.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# Only nginx on loopback talks to gunicorn; X-Forwarded-Proto is believed from it.
forwarded_allow_ips = "127.0.0.1"
proxy_allow_ips = "127.0.0.1"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = "governance-http"

WARM_UP_PATHS = ["/healthz"]
# Logged by each worker once it is ready (governance/stack.py counts them).
WARMED_UP = "Worker %s warmed up"


def warm_up_environs(paths, languages, host):
    """GETs of ``paths`` in each language, as nginx would pass them on."""
    for path in paths:
        for code in languages:
            yield {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": path,
                "SCRIPT_NAME": "",
                "QUERY_STRING": "",
                "SERVER_NAME": host,
                "SERVER_PORT": "80",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "HTTP_HOST": host,
                "HTTP_ACCEPT_LANGUAGE": code,
                "REMOTE_ADDR": "127.0.0.1",
                "wsgi.version": (1, 0),
                "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(),
                "wsgi.errors": sys.stderr,
                "wsgi.multithread": False,
                "wsgi.multiprocess": True,
                "wsgi.run_once": False,
            }


def pre_fork(server, worker):
    # What the master loaded (the whole application) lives as long as the
    # workers: left out of every collection, its pages stay shared.
    gc.freeze()


def post_fork(server, worker):
    from django.conf import settings

    application = worker.app.wsgi()
    hosts = [h.lstrip(".") for h in settings.ALLOWED_HOSTS if h.lstrip(".") not in ("", "*")]
    host = hosts[0] if hosts else "localhost"
    languages = [code for code, _name in settings.LANGUAGES]
    for environ in warm_up_environs(WARM_UP_PATHS, languages, host):
        status = _answer(application, environ)
        if not status.startswith("200"):
            server.log.warning("warm-up GET %s answered %r", environ["PATH_INFO"], status)
    # What the warm-up loaded (URL resolvers, catalogues) stays as well.
    gc.collect()
    gc.freeze()
    server.log.info(WARMED_UP, worker.pid)


def _answer(application, environ) -> str:
    """Run one request through ``application``; its status line."""
    answered = []
    body = application(environ, lambda status, headers, exc_info=None: answered.append(status))
    try:
        for _chunk in body:
            pass
    finally:
        getattr(body, "close", lambda: None)()
    return answered[0] if answered else ""
