"""The production units (deploy/systemd/): systemd finds nothing wrong in
them, and the commands they start take the arguments systemd passes."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from celery.utils.nodenames import host_format

UNITS = Path(__file__).resolve().parent.parent / "deploy" / "systemd"
# The only thing the check may find here: the checkout and its venv are not
# installed on this machine.
NOT_INSTALLED = re.compile(r"^[\w.-]+: Command /srv/governance/\S+ is not executable: .*$")


def exec_start(unit: str) -> list[str]:
    """The unit's ExecStart as systemd passes it: with "%%" unescaped."""
    line = next(
        line for line in (UNITS / unit).read_text().splitlines() if line.startswith("ExecStart=")
    )
    return [word.replace("%%", "%") for word in shlex.split(line.removeprefix("ExecStart="))]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_systemd_verifies_the_units():
    units = sorted(str(path) for path in UNITS.glob("governance*"))
    assert len(units) == 6
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=UNITS,
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    problems = [line for line in lines if not NOT_INSTALLED.match(line)]
    assert problems == [], done.stdout + done.stderr
    assert done.returncode == 0 or lines  # it failed for no reason it gave


def test_the_celery_worker_is_named_after_its_host():
    command = exec_start("governance-celery.service")
    name = command[command.index("--hostname") + 1]

    assert host_format(name, host="node1.example.org") == "worker@node1.example.org"
