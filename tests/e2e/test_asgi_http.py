"""HTTP requests through the real ASGI server (uvicorn on governance.asgi):
Django's WSGI handler on the server's threads, with the request body as
the client sent it, whole or chunked."""

from __future__ import annotations

import http.client
import json
import uuid
from urllib.parse import urlsplit

import pytest
from rest_framework.authtoken.models import Token

from cases.models import Case, CaseAttachment
from tests.cases.conftest import IN_G1, jpeg, world  # noqa: F401 - the small working city

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


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


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_report_arrives_whole_however_its_body_is_sent(city, asgi_server, chunked):
    token = Token.objects.create(user=city.grid_worker)
    auth = {"Authorization": f"Token {token.key}", "Accept-Language": "en"}

    status, body = post(
        asgi_server,
        "/api/v1/cases/",
        report_json(city),
        {**auth, "Content-Type": "application/json"},
        chunked=chunked,
    )
    assert status == 201, body
    assert Case.objects.get(pk=body["id"]).description == "井盖缺失"

    boundary = uuid.uuid4().hex
    status, body = post(
        asgi_server,
        "/api/v1/cases/",
        report_multipart(boundary),
        {**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        chunked=chunked,
    )
    assert status == 201, body
    assert len(body["photos"]) == 1 and body["photos"][0]["width"] == 800
    assert CaseAttachment.objects.filter(case_id=body["id"]).count() == 1

    # A bad body is still refused by name, not lost on the way.
    status, body = post(
        asgi_server,
        "/api/v1/cases/",
        b'{"category": "BJ0101"',
        {**auth, "Content-Type": "application/json"},
        chunked=chunked,
    )
    assert status == 400 and body["error"]["code"] == "malformed", body
