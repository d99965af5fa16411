"""The servers of one application node, as bin/run, the browser tests and the
benchmarks start them (production: the same layout as systemd units,
deploy/systemd/ and README "Production").

    nginx     the one public port (HOST:PORT): /ws/ to uvicorn, /static/ from
              STATIC_ROOT, photos from MEDIA_ROOT by X-Accel-Redirect, the
              rest to gunicorn; body limit, timeouts, load shedding
    gunicorn  HTTP: governance.wsgi on loopback (deploy/gunicorn.conf.py)
    uvicorn   WebSocket: governance.asgi on loopback, one process

nginx's configuration is rendered from deploy/*.template into the stack's
own prefix (pid, temporary files, logs), so nginx runs without root. The
backends trust forwarded headers from nginx alone (loopback): Django takes
the last X-Forwarded-For entry (NUM_PROXIES=1), uvicorn rewrites the peer
from 127.0.0.1 only. Proxies in front of nginx are named by
FORWARDED_ALLOW_IPS (nginx's set_real_ip_from).

    python -m governance.stack --host 127.0.0.1 --port 8000

runs it in the foreground until SIGTERM / SIGINT, or until one server exits;
with ``--render-only`` it writes nginx's configuration and its own error
answers (``manage.py render_gateway_errors``) into ``STATE_DIR/nginx/`` and
exits (production: deploy/systemd/README.md).
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from string import Template

from governance.forwarded import forwarded_allow_ips, uvicorn_args

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
TEMPLATES = ("nginx.conf", "app_proxy.conf")
# The internal nginx location the photo view redirects to (cases/api/photo_files.py).
PHOTOS_PREFIX = "/_photos/"
LOOPBACK = "127.0.0.1"
# Logged by each gunicorn worker once it has warmed up (deploy/gunicorn.conf.py).
WARMED_UP = re.compile(rb"Worker \d+ warmed up")


class StackFailed(Exception):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def render(template: str, values: dict[str, str]) -> str:
    """``template`` with ``${NAME}`` replaced; nginx's own ``$name`` stay."""
    text = Template(template).safe_substitute(values)
    missing = re.findall(r"\$\{([A-Z_]+)\}", text)
    if missing:
        raise StackFailed(f"no value for {', '.join(sorted(set(missing)))}")
    return text


def user_directive(owner_of: Path) -> str:
    """nginx's workers act as the owner of the state directory, who owns the
    files they serve (a master started as root, e.g. by systemd, would run
    them as nobody; one started as another user ignores this, with a
    warning in its error log)."""
    info = os.stat(owner_of)
    return f"user {pwd.getpwuid(info.st_uid).pw_name} {grp.getgrgid(info.st_gid).gr_name};"


class Stack:
    """nginx + gunicorn + uvicorn; a context manager that yields once all answer."""

    def __init__(
        self,
        *,
        state_dir: Path,
        static_root: Path,
        media_root: Path,
        host: str = LOOPBACK,
        port: int = 8000,
        environ: dict | None = None,
        gunicorn_workers: int | None = None,
        access_log: bool = False,
        gunicorn_port: int | None = None,
        uvicorn_port: int | None = None,
    ):
        self.host, self.port = host, port
        self.state_dir = Path(state_dir)
        self.prefix = self.state_dir / "nginx"
        self.gateway_errors = self.prefix / "gateway-errors"
        self.log_dir = self.state_dir / "logs"
        self.static_root, self.media_root = Path(static_root), Path(media_root)
        self.environ = dict(os.environ if environ is None else environ)
        self.gunicorn_workers = gunicorn_workers
        self.access_log = access_log
        self.gunicorn_port = gunicorn_port or free_port()
        self.uvicorn_port = uvicorn_port or free_port()
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def setting(self, name: str, default: str) -> str:
        return self.environ.get(name) or default

    def workers(self) -> int:
        """gunicorn's workers (deploy/gunicorn.conf.py reads the same)."""
        configured = self.gunicorn_workers or int(self.setting("GUNICORN_WORKERS", "0"))
        return configured or 2 * len(os.sched_getaffinity(0))

    def max_in_flight(self) -> int:
        """Requests nginx passes to gunicorn at once: by default four per
        worker, at least 16. Beyond it nginx answers 503 at once: a longer
        queue in front of the workers would only add its wait to every
        request's latency. (Two per worker shed a tenth of the list requests
        at 110/s while other processes took a third of the CPU.)"""
        configured = int(self.setting("NGINX_MAX_IN_FLIGHT", "0"))
        return configured or max(16, 4 * self.workers())

    def backend_environ(self) -> dict:
        """The backends' environment: they trust nginx, on loopback, alone."""
        env = {
            **self.environ,
            "FORWARDED_ALLOW_IPS": LOOPBACK,
            "NUM_PROXIES": "1",
            "PHOTOS_ACCEL_REDIRECT_PREFIX": PHOTOS_PREFIX,
            "STATIC_ROOT": str(self.static_root),
            "MEDIA_ROOT": str(self.media_root),
        }
        if self.gunicorn_workers:
            env["GUNICORN_WORKERS"] = str(self.gunicorn_workers)
        return env

    def nginx_values(self) -> dict[str, str]:
        trusted = [address for address in forwarded_allow_ips(self.environ).split(",") if address]
        timeout = int(self.setting("GUNICORN_TIMEOUT", "30"))
        connections = int(self.setting("NGINX_WORKER_CONNECTIONS", "16384"))
        return {
            "USER_DIRECTIVE": user_directive(self.state_dir),
            "PREFIX": str(self.prefix),
            "WORKER_CONNECTIONS": str(connections),
            # Not above the hard limit, which only a privileged master may pass.
            "WORKER_NOFILE": str(min(2 * connections + 64, _hard_nofile())),
            "ACCESS_LOG": f"{self.log_dir}/nginx-access.log" if self.access_log else "off",
            "MAX_BODY_SIZE": self.setting("REQUEST_BODY_LIMIT", "140m"),
            "REAL_IP_FROM": "\n    ".join(f"set_real_ip_from {address};" for address in trusted),
            "TRUSTED_PEERS": "\n        ".join(f"{address} 1;" for address in trusted),
            "MAX_IN_FLIGHT": str(self.max_in_flight()),
            "RETRY_AFTER": self.setting("REQUEST_RETRY_AFTER_SECONDS", "1"),
            "GUNICORN_ADDRESS": f"{LOOPBACK}:{self.gunicorn_port}",
            "UVICORN_ADDRESS": f"{LOOPBACK}:{self.uvicorn_port}",
            "LISTEN": f"{self.host}:{self.port}",
            "STATIC_ROOT": str(self.static_root),
            "MEDIA_ROOT": str(self.media_root),
            "PHOTOS_PREFIX": PHOTOS_PREFIX,
            "PROXY_READ_TIMEOUT": f"{timeout + 5}s",
            "GATEWAY_ERRORS": str(self.gateway_errors),
        }

    def render_nginx(self) -> Path:
        self.prefix.mkdir(parents=True, exist_ok=True)
        values = self.nginx_values()
        for name in TEMPLATES:
            text = (DEPLOY / f"{name}.template").read_text()
            (self.prefix / name).write_text(render(text, values))
        return self.prefix / "nginx.conf"

    def render_gateway_errors(self) -> None:
        """nginx's own error answers, from the application's templates and
        catalogue, with the backends' settings (core/gateway_errors.py)."""
        command = [
            sys.executable, "manage.py", "render_gateway_errors", "-v", "0",
            "--output", str(self.gateway_errors),
        ]  # fmt: skip
        done = subprocess.run(  # noqa: S603 - our own command
            command, cwd=ROOT, env=self.backend_environ(), capture_output=True, text=True
        )
        if done.returncode:
            raise StackFailed(f"render_gateway_errors failed:\n{done.stderr[-4000:]}")

    def commands(self) -> dict[str, list[str]]:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        return {
            "gunicorn": [
                sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py"),
                "--bind", f"{LOOPBACK}:{self.gunicorn_port}", "governance.wsgi:application",
            ],
            "uvicorn": [
                sys.executable, "-m", "uvicorn", "governance.asgi:application",
                "--host", LOOPBACK, "--port", str(self.uvicorn_port), "--lifespan", "on",
                "--no-server-header", "--no-access-log",
                # websockets' Sans-I/O implementation: less CPU and memory per
                # connection than the legacy one, which websockets deprecates
                # (bin/bench live --ws websockets,websockets-sansio).
                "--ws", "websockets-sansio",
                # A WebSocket costs about 50 KiB instead of 150 without
                # per-message deflate; live messages are too small to gain.
                "--ws-per-message-deflate", "false",
                *uvicorn_args({"FORWARDED_ALLOW_IPS": LOOPBACK}),
            ],
            "nginx": [
                nginx, "-p", f"{self.prefix}/", "-c", str(self.prefix / "nginx.conf"),
                "-e", str(self.prefix / "error.log"), "-g", "daemon off;",
            ],
        }  # fmt: skip

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def log_tail(self, lines: int = 40) -> str:
        tails = []
        for name in [*self.commands(), "nginx-error"]:
            path = self.prefix / "error.log" if name == "nginx-error" else self.log_path(name)
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                tails.append(f"--- {name}\n" + "\n".join(text))
        return "\n".join(tails)

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.render_nginx()
        self.render_gateway_errors()
        backend = self.backend_environ()
        for name, command in self.commands().items():
            with open(self.log_path(name), "ab") as log:
                self.processes[name] = subprocess.Popen(  # noqa: S603 - our own servers
                    command,
                    cwd=ROOT,
                    env=backend if name != "nginx" else self.environ,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )

    def exited(self) -> str | None:
        """The name of a server that has exited, if any."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                return name
        return None

    def warmed_up_workers(self) -> int:
        path = self.log_path("gunicorn")
        return len(WARMED_UP.findall(path.read_bytes())) if path.exists() else 0

    def wait_ready(self, timeout: float = 90) -> None:
        """Until /healthz answers through nginx, uvicorn answers and every
        gunicorn worker has warmed up."""
        workers = self.workers()
        checks = [f"{self.url}/healthz", f"http://{LOOPBACK}:{self.uvicorn_port}/healthz"]
        deadline = time.monotonic() + timeout
        while True:
            name = self.exited()
            if name:
                raise StackFailed(f"{name} exited:\n{self.log_tail()}")
            if self.warmed_up_workers() >= workers and all(map(_answers_200, checks)):
                return
            if time.monotonic() > deadline:
                raise StackFailed(
                    f"the servers did not answer within {timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = {}

    def __enter__(self) -> Stack:
        try:
            self.start()
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _hard_nofile() -> int:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return hard if hard != resource.RLIM_INFINITY else 1 << 20


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own servers
            return response.status == 200
    except OSError:
        return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".state")
    parser.add_argument("--gunicorn-port", type=int, help="default: a free one")
    parser.add_argument("--uvicorn-port", type=int, help="default: a free one")
    parser.add_argument("--render-only", action="store_true", help="write nginx.conf, exit")
    args = parser.parse_args(argv)

    from django.conf import settings

    stack = Stack(
        state_dir=args.state_dir,
        static_root=settings.STATIC_ROOT,
        media_root=settings.MEDIA_ROOT,
        host=args.host,
        port=args.port,
        access_log=True,
        gunicorn_port=args.gunicorn_port,
        uvicorn_port=args.uvicorn_port,
    )
    if args.render_only:
        print(stack.render_nginx())
        stack.render_gateway_errors()
        return 0
    stopping = []
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stopping.append(True))
    with stack:
        print(f"nginx on {stack.url}, gunicorn and uvicorn behind it", flush=True)
        while not stopping:
            name = stack.exited()
            if name:
                print(f"{name} exited:\n{stack.log_tail()}", file=sys.stderr, flush=True)
                return 1
            time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
