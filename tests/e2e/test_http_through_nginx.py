"""HTTP requests through the servers bin/run starts (nginx in front of
gunicorn): the request body arrives as the client sent it, whole or chunked;
photos are served by nginx after the application's check; requests that
waited too long are shed with 503 and Retry-After; nginx's own answers (shed,
body too large, gunicorn down) speak as the application does."""

from __future__ import annotations

import http.client
import json
import os
import signal
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.utils import translation
from rest_framework.authtoken.models import Token

from cases.models import Case, CaseAttachment
from core.gateway_errors import GATEWAY_ERRORS
from tests.cases.conftest import IN_G1, jpeg, world  # noqa: F401 - the small working city
from tests.servers import run_server_stack

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def city(reference_data, world):  # noqa: F811
    return world


def post(server, path: str, body: bytes, headers: dict, *, chunked: bool):
    """POST ``body`` whole (Content-Length) or in chunks of 1000 bytes."""
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.putrequest("POST", path)
        for name, value in headers.items():
            connection.putheader(name, value)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            for start in range(0, len(body), 1000):
                piece = body[start : start + 1000]
                connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            connection.send(b"0\r\n\r\n")
        else:
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def report_json(city) -> bytes:
    return json.dumps(
        {"category": "BJ0101", "description": "井盖缺失", "lng": IN_G1[0], "lat": IN_G1[1]}
    ).encode()


def report_multipart(boundary: str) -> bytes:
    fields = {"category": "BJ0101", "description": "井盖缺失", "lng": IN_G1[0], "lat": IN_G1[1]}
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    photo = jpeg("manhole.jpg", size=(800, 600)).read()
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; filename="manhole.jpg"'
        "\r\nContent-Type: image/jpeg\r\n\r\n".encode()
        + photo
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def post_photo_report(server, auth: dict, *, chunked: bool):
    """A report with one 800 x 600 photo, as multipart."""
    boundary = uuid.uuid4().hex
    return post(
        server,
        "/api/v1/cases/",
        report_multipart(boundary),
        {**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        chunked=chunked,
    )


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_report_arrives_whole_however_its_body_is_sent(city, server_stack, chunked):
    token = Token.objects.create(user=city.grid_worker)
    auth = {"Authorization": f"Token {token.key}", "Accept-Language": "en"}

    status, body = post(
        server_stack,
        "/api/v1/cases/",
        report_json(city),
        {**auth, "Content-Type": "application/json"},
        chunked=chunked,
    )
    assert status == 201, body
    assert Case.objects.get(pk=body["id"]).description == "井盖缺失"

    status, body = post_photo_report(server_stack, auth, chunked=chunked)
    assert status == 201, body
    assert len(body["photos"]) == 1 and body["photos"][0]["width"] == 800
    assert CaseAttachment.objects.filter(case_id=body["id"]).count() == 1

    # A bad body is still refused by name, not lost on the way.
    status, body = post(
        server_stack,
        "/api/v1/cases/",
        b'{"category": "BJ0101"',
        {**auth, "Content-Type": "application/json"},
        chunked=chunked,
    )
    assert status == 400 and body["error"]["code"] == "malformed", body


def post_raw(url: str, body: bytes, headers: dict):
    return get(url, {"Content-Type": "application/json", **headers}, body)


def get(url: str, headers: dict | None = None, body: bytes | None = None):
    request = urllib.request.Request(url, data=body, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers), refused.read()


def test_nginx_sends_a_photo_after_the_applications_check(city, server_stack):
    token = Token.objects.create(user=city.grid_worker)
    auth = {"Authorization": f"Token {token.key}", "Accept-Language": "en"}
    status, body = post_photo_report(server_stack, auth, chunked=False)
    assert status == 201, body
    attachment = CaseAttachment.objects.get(case_id=body["id"])
    path = urlsplit(body["photos"][0]["url"]).path
    stored = Path(server_stack.stack.media_root, attachment.file.name).read_bytes()

    status, headers, content = get(server_stack.url + path, auth)
    refused, _headers, _content = get(server_stack.url + path)  # no credentials
    internal, _headers, _content = get(f"{server_stack.url}/_photos/{attachment.file.name}")

    assert status == 200 and content == stored
    assert headers["Content-Type"] == "image/jpeg"
    assert "X-Accel-Redirect" not in headers
    assert refused == 404
    # The files themselves are only reachable through the check.
    assert internal == 404


def burst(url: str, count: int, headers: dict | None = None) -> list[tuple[int, dict, bytes]]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: get(url, headers), range(count)))


def in_language(language: str, text) -> str:
    with translation.override(language):
        return str(text)


def assert_gateway_error(answer, status: int, *, language: str, json_body: bool):
    """nginx's own answer (core/gateway_errors.py) in the application's words."""
    got, headers, content = answer
    error = next(e for e in GATEWAY_ERRORS if e.status == status)
    assert got == status, content[:300]
    assert headers["Content-Language"] == language
    assert headers.get("Retry-After") == ("1" if status == 503 else None)
    message = in_language(language, error.message)
    if json_body:
        assert headers["Content-Type"].startswith("application/json")
        assert json.loads(content) == {"error": {"code": error.code, "message": message}}
    else:
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        page = content.decode()
        assert f'<html lang="{language}">' in page and message in page


def assert_shed_answers(answers):
    statuses = sorted({status for status, _headers, _body in answers})
    assert statuses == [200, 503], statuses
    for status, headers, content in answers:
        if status == 503:
            assert headers["Retry-After"] == "1"
            assert json.loads(content)["error"]["code"] == "overloaded"


@pytest.fixture
def one_worker(transactional_db, tmp_path):
    """``one_worker(**environ)``: the servers with one gunicorn worker."""

    def start(**environ):
        environ = {"GUNICORN_WORKERS": "1", **environ}
        return run_server_stack({}, work_dir=tmp_path, environ=environ)

    return start


def test_requests_that_waited_too_long_for_the_worker_are_shed(one_worker):
    with one_worker(REQUEST_QUEUE_TIMEOUT_MS="30", NGINX_MAX_IN_FLIGHT="100") as stack:
        answers = burst(f"{stack.url}/healthz", 40)

    assert_shed_answers(answers)


def test_requests_beyond_the_bound_in_flight_are_shed_by_nginx(one_worker):
    with one_worker(NGINX_MAX_IN_FLIGHT="2", REQUEST_QUEUE_TIMEOUT_MS="0") as stack:
        api = burst(f"{stack.url}/api/v1/areas/", 40, {"Accept-Language": "en-GB,en;q=0.8"})
        pages = burst(f"{stack.url}/healthz", 40)

    # The API's error format, in English as asked; a page in Chinese by default.
    assert sorted({status for status, _h, _b in api}) == [403, 503]
    assert sorted({status for status, _h, _b in pages}) == [200, 503]
    for answer in api:
        if answer[0] == 503:
            assert_gateway_error(answer, 503, language="en", json_body=True)
    for answer in pages:
        if answer[0] == 503:
            assert_gateway_error(answer, 503, language="zh-hans", json_body=False)


def test_nginx_answers_a_body_too_large_and_gunicorn_down_in_the_apps_words(one_worker):
    body = b"x" * 4096
    with one_worker(REQUEST_BODY_LIMIT="1k") as stack:
        big_api = post_raw(f"{stack.url}/api/v1/cases/", body, {"Accept-Language": "en"})
        big_page = post_raw(f"{stack.url}/accounts/login/", body, {"Accept-Language": "zh-CN"})
        stack.processes["gunicorn"].terminate()
        stack.processes["gunicorn"].wait(timeout=20)
        down_api = get(f"{stack.url}/api/v1/areas/", {"Accept-Language": "fr, en;q=0.5"})
        down_page = get(f"{stack.url}/", {"Accept-Language": "de"})

    assert_gateway_error(big_api, 413, language="en", json_body=True)
    assert_gateway_error(big_page, 413, language="zh-hans", json_body=False)
    assert_gateway_error(down_api, 502, language="en", json_body=True)
    assert_gateway_error(down_page, 502, language="zh-hans", json_body=False)


def test_nginx_answers_gunicorn_too_slow_with_a_timeout_in_the_apps_words(one_worker):
    with one_worker(GUNICORN_TIMEOUT="2") as stack:  # nginx waits 2 + 5 s
        master = stack.processes["gunicorn"].pid
        stopped = [master, *children_of(master)]
        for pid in stopped:  # it accepts connections and answers none
            os.kill(pid, signal.SIGSTOP)
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                api = pool.submit(get, f"{stack.url}/api/v1/areas/", {"Accept-Language": "en"})
                page = pool.submit(get, f"{stack.url}/", {})
                slow_api, slow_page = api.result(), page.result()
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)

    assert_gateway_error(slow_api, 504, language="en", json_body=True)
    assert_gateway_error(slow_page, 504, language="zh-hans", json_body=False)


def children_of(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
