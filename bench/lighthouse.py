"""Lighthouse on the phone pages: the citizen's report form, the tracking
page of a real tip (closed, with photos, the department's reply and the
rating form: every part the page has), and the grid worker's app as a
signed-in grid worker.

Lighthouse 12.2.3 (npm, pinned by bench/lighthouse/package-lock.json, apart
from the pages' own packages: it measures them, it is none of theirs) drives
Debian's Chromium in its mobile profile with its default throttling
(simulated slow 4G, a 4x slower CPU). The servers are the stack bin/run
starts (nginx, gunicorn, uvicorn) on the benchmark database, with the static
files collected as in production (hashed names, pre-compressed copies).

Per page it prints the performance, accessibility and best-practices
scores, first contentful paint, largest contentful paint, time to
interactive, and the JS + CSS the page loads (transfer sizes from the
network requests: compressed, as sent). Then it checks the budgets:

    performance >= 90, accessibility >= 95, best practices >= 95,
    JS + CSS <= 100 KB compressed,
    first visit of the report form <= 2 s, taken as Lighthouse's largest
    contentful paint: the form works without its script, so it is usable
    once it is painted (time to interactive is printed beside it).

A missed budget ends the run with status 1 (not in smoke mode). A page that
answers 404 (the grid worker's app, where it is not built yet) is reported
as not available.

    bin/bench lighthouse                   the three pages
    bin/bench lighthouse --url /report/    only these paths (repeat --url)
    bin/bench lighthouse --smoke           tracking page only, budgets printed, never failing

Reports (JSON) are kept in ``$LIGHTHOUSE_REPORTS`` or a temporary directory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchdb
from _harness import (
    ServerStack,
    bench_redis_url,
    code_state,
    print_table,
    smoke_mode,
)
from _lighthouse_budgets import exit_status, failed_audits, judged

SMOKE = smoke_mode()
# This process files a tip too: its tasks (thumbnails, notifications) go to the
# benchmark's Redis database, as the server's do, never to a development worker.
DEV_REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:63790/0")
os.environ["REDIS_URL"] = bench_redis_url(DEV_REDIS_URL)
BENCH_DB = _benchdb.setup()

from django.conf import settings  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
TOOL_DIR = BENCH_DIR / "lighthouse"
LIGHTHOUSE = TOOL_DIR / "node_modules" / "lighthouse" / "cli" / "index.js"
CHROME_PATH = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
# Headless Chromium as root in a container, without a GPU; loopback only
# (no proxy, no QUIC, no background requests that would count as the page's).
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --no-proxy-server --disable-quic "
    "--no-first-run --disable-background-networking --disable-component-update --disable-sync"
)

SIGNED_IN_PATHS = ("/field/",)
DEFAULT_PATHS = ("/report/", "/track/{token}/", "/field/")


def ensure_lighthouse() -> None:
    """``npm ci`` in bench/lighthouse/ when its lockfile changed (a stamp, as
    bin/lib/provision.sh's ensure_frontend does for the pages' packages)."""
    digest = hashlib.sha256(
        (TOOL_DIR / "package.json").read_bytes() + (TOOL_DIR / "package-lock.json").read_bytes()
    ).hexdigest()[:16]
    stamp = TOOL_DIR / "node_modules" / f".installed-{digest}"
    if stamp.exists():
        return
    print("installing Lighthouse (npm ci in bench/lighthouse/)", flush=True)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],  # noqa: S607
        cwd=TOOL_DIR,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    for old in stamp.parent.glob(".installed-*"):
        old.unlink()
    stamp.touch()


def photo(seed: int):
    """A camera-shaped (4:3) JPEG."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1024, 768), (seed * 37 % 256, seed * 91 % 256, 120)).save(buffer, "JPEG")
    return SimpleUploadedFile(f"bench-{seed}.jpg", buffer.getvalue(), content_type="image/jpeg")


def a_closed_tip_token() -> str:
    """A citizen's tip with a photo, carried to closure by the demo city's
    staff (registered, dispatched, reported fixed with a photo and the
    department's reply, inspected): its page shows every part, the timeline,
    the reply, the photos and the rating form."""
    from django.contrib.auth import get_user_model

    from cases import services
    from cases.models import Category, Source
    from grids.models import Area

    staff = get_user_model().objects.in_bulk(
        ["gridworker", "dispatcher", "handler"], field_name="username"
    )
    worker, dispatcher, handler = staff["gridworker"], staff["dispatcher"], staff["handler"]
    grid = Area.objects.filter(assignments__user=worker).order_by("code").first()
    point = grid.boundary.point_on_surface.transform(4326, clone=True)
    category = (
        Category.objects.for_citizens()
        .filter(default_department__code="CGJ")
        .exclude(attributes__required=True)
        .order_by("code")
        .first()
    )
    case = services.case_report(
        reporter=None,
        source=Source.CITIZEN,
        category=category,
        description="路灯不亮，晚上很黑（Lighthouse 基准测试）",
        lng=point.x,
        lat=point.y,
        photos=[photo(1)],
    )
    services.case_register(case=case, actor=dispatcher)
    services.case_dispatch(case=case, actor=dispatcher)
    services.case_acknowledge(case=case, actor=handler)
    services.case_report_back(
        case=case, actor=handler, note="已更换灯泡", reply="路灯已修复，感谢您的反映。",
        photos=[photo(2)],
    )  # fmt: skip
    services.case_inspect(case=case, actor=worker, passed=True)
    return case.tracking_token


def grid_worker_cookie() -> str:
    """A session cookie of the demo city's grid worker, signed in as the
    login page would (the session is in the database the server reads)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="gridworker"))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def status_of(url: str, cookie: str = "") -> int:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def run_lighthouse(url: str, out: Path, cookie: str = "") -> dict:
    command = [
        "node", str(LIGHTHOUSE), url,
        "--output=json", f"--output-path={out}", "--quiet",
        f"--chrome-flags={CHROME_FLAGS}",
        "--only-categories=performance,accessibility,best-practices",
        "--locale=en-US",
    ]  # fmt: skip
    if cookie:
        command.append("--extra-headers=" + json.dumps({"Cookie": cookie}))
    result = subprocess.run(  # noqa: S603 - the pinned Lighthouse
        command,
        env={**os.environ, "CHROME_PATH": CHROME_PATH},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0 or not out.exists():
        raise SystemExit(f"Lighthouse failed on {url}:\n{result.stderr[-3000:]}")
    return json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", action="append", help="a path to measure (repeatable)")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    paths = args.url or (["/track/{token}/"] if SMOKE else list(DEFAULT_PATHS))

    ensure_lighthouse()
    if not Path(CHROME_PATH).exists():
        raise SystemExit(f"no Chromium at {CHROME_PATH} (apt-get install chromium)")
    workdir = Path(tempfile.mkdtemp(prefix="bench-lighthouse-"))
    reports = Path(os.environ.get("LIGHTHOUSE_REPORTS") or workdir / "reports")
    reports.mkdir(parents=True, exist_ok=True)
    environ = {
        **os.environ,
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
        "DEBUG": "false",
    }
    static_root = workdir / "static"
    token = a_closed_tip_token()
    cookie = grid_worker_cookie()
    server = ServerStack(workdir=workdir, static_root=static_root, environ=environ)
    # The tip's photos are where this process stored them.
    server.media = Path(settings.MEDIA_ROOT)
    print(f"database {BENCH_DB}, {code_state()}, Lighthouse 12.2.3, {CHROME_PATH}", flush=True)
    print(f"started the servers in {server.start():.1f} s at {server.base}", flush=True)
    results, unavailable = [], []
    try:
        for pattern in paths:
            path = pattern.format(token=token)
            signed_in = cookie if path in SIGNED_IN_PATHS else ""
            status = status_of(server.base + path, signed_in)
            if status == 404:
                unavailable.append(path)
                continue
            if status != 200:
                server.fail(f"{path} answered {status}")
            report = run_lighthouse(server.base + path, reports / f"{len(results)}.json", signed_in)
            shown = pattern.replace("{token}", "<token>")
            results.append(judged(shown, report))
            for line in failed_audits(report):
                print(f"  {shown}: {line}", flush=True)
        if errors := server.log_errors():
            server.fail("the servers logged errors:\n" + "\n".join(errors[:10]))
    finally:
        server.stop()
    print(f"reports in {reports}")
    print_table(
        (
            ("page", "<18"), ("perf", ">6"), ("a11y", ">6"), ("best", ">6"),
            ("FCP ms", ">8.0f"), ("LCP ms", ">8.0f"), ("TTI ms", ">8.0f"), ("JS+CSS KB", ">11.1f"),
        ),
        [
            (
                r.path, r.scores["performance"], r.scores["accessibility"],
                r.scores["best-practices"], r.fcp_ms, r.lcp_ms, r.tti_ms, r.asset_bytes / 1024,
            )
            for r in results
        ],
    )  # fmt: skip
    for path in unavailable:
        print(f"{path}: not available (404)")
    missed = [f"{r.path}: {m}" for r in results for m in r.missed]
    for line in missed:
        print(f"budget missed: {line}")
    print(f"budgets: {'all met' if not missed else f'{len(missed)} missed'}")
    # The collected static files and the servers' state go; the reports stay.
    shutil.rmtree(static_root, ignore_errors=True)
    if SMOKE:
        shutil.rmtree(workdir, ignore_errors=True)
    return exit_status(results, smoke=SMOKE)


if __name__ == "__main__":
    sys.exit(main())
