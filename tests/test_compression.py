"""What nginx sends compressed (deploy/nginx.conf.template): static files,
from the copy collectstatic compressed beside each when there is one, and
pages; API answers are sent as they are."""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
import uuid

import pytest

from tests.servers import run_server_stack

COMMITTED = pytest.mark.django_db(transaction=True, serialized_rollback=True)
STYLE = b".c-field { margin-bottom: 1.5rem; }\n" * 200


def fetch(url: str) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers), refused.read()


@COMMITTED
def test_static_files_and_pages_go_compressed_and_api_answers_do_not(tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    (static / "plain.css").write_bytes(STYLE)
    # collectstatic's compressed copy is sent as it is, not compressed again
    (static / "collected.css").write_bytes(STYLE)
    (static / "collected.css.gz").write_bytes(gzip.compress(b"/* the copy */" + STYLE))

    with run_server_stack({}, work_dir=tmp_path) as stack:
        plain = fetch(f"{stack.url}/static/plain.css")
        collected = fetch(f"{stack.url}/static/collected.css")
        page = fetch(f"{stack.url}/report/")
        api = fetch(f"{stack.url}/api/v1/tips/{uuid.uuid4().hex}/")

    for status, headers, _body in (plain, collected, page):
        assert status == 200 and headers.get("Content-Encoding") == "gzip", headers
        assert "Accept-Encoding" in headers.get("Vary", "")
    assert gzip.decompress(plain[2]) == STYLE and len(plain[2]) < len(STYLE) / 10
    assert gzip.decompress(collected[2]).startswith(b"/* the copy */")
    assert b"<form" in gzip.decompress(page[2])
    assert api[0] == 404 and "Content-Encoding" not in api[1]
    assert b'"error"' in api[2]
