"""An existing Open311 client library, unchanged, against the live server.

``georeport`` (PyPI, 2025) is a maintained GeoReport v2 client; it reads
services, service definitions and requests in JSON and XML (parsing XML with
xmltodict) but does not create requests. Creating one is done the way the
Code for America ``open311`` client (Python 2 only, not installable here)
and the specification's example do it: a form POST with ``requests``, the
api_key in the query string or in the form, attribute[code]=value pairs.
"""

from __future__ import annotations

import pytest
import requests
import xmltodict
from georeport import GeoReport

from cases import services as case_services
from cases.models import Case

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PERSONAL = ("王小明", "13912345678", "wangxm@example.com")


def post_tip(root: str, api_client, fmt: str, **extra) -> requests.Response:
    # As open311_python's post_service_request does it: key in the query string.
    form = {
        "service_code": "BJ0101",
        "lat": "31.73",
        "long": "119.91",
        "address_string": "延陵西路 88 号",
        "description": "井盖缺失 & 周围无警示 <紧急>",
        "first_name": "小明",
        "last_name": "王",
        "phone": PERSONAL[1],
        "email": PERSONAL[2],
        "attribute[hurt]": "no",
        "attribute[size][]": ["s", "m"],
        **extra,
    }
    return requests.post(
        f"{root}/requests.{fmt}",
        params={"api_key": api_client.api_key, "jurisdiction_id": "changzhou.gov.cn"},
        data=form,
        timeout=30,
    )


def test_georeport_reads_everything_in_json_and_xml(live_server, world, questions, api_client):
    root = f"{live_server.url}/open311/v2"

    # Create two tips the way a client library posts them, one per format.
    response = post_tip(root, api_client, "json")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    first_id = response.json()[0]["service_request_id"]
    response = post_tip(root, api_client, "xml", description="路灯不亮")
    assert response.status_code == 200, response.text
    assert response.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    second_id = xmltodict.parse(response.content)["service_requests"]["request"][
        "service_request_id"
    ]
    assert {c.number for c in Case.objects.all()} == {first_id, second_id}
    for case in Case.objects.all():  # published once registered
        case_services.case_register(case=case, actor=world.dispatcher)

    for fmt in ("json", "xml"):
        client = GeoReport(root, jurisdiction="changzhou.gov.cn", output_format=fmt)

        services = client.get_service_list()
        codes = [s["service_code"] for s in services]
        assert "BJ0101" in codes and "BJ0115" not in codes
        cover = next(s for s in services if s["service_code"] == "BJ0101")
        assert cover["service_name"] == "Water supply manhole cover"
        assert str(cover["metadata"]).lower() == "true"

        definition = client.get_service_definition("BJ0101")
        assert definition["service_code"] == "BJ0101"
        attributes = definition["attributes"]
        if fmt == "xml":  # xmltodict: <attributes><attribute>…
            attributes = attributes["attribute"]
        hurt = attributes[0]
        assert hurt["code"] == "hurt" and str(hurt["required"]).lower() == "true"
        values = hurt["values"] if fmt == "json" else hurt["values"]["value"]
        assert [v["name"] for v in values] == ["是", "否"]

        listed = client.get_service_requests(status="open", service_code="BJ0101")
        assert [r["service_request_id"] for r in listed] == [second_id, first_id]
        assert listed[1]["description"] == "井盖缺失 & 周围无警示 <紧急>"
        assert listed[1]["status"] == "open"

        chosen = client.get_service_requests(service_request_id=f"{first_id},{second_id}")
        assert {r["service_request_id"] for r in chosen} == {first_id, second_id}

        one = client.get_service_request(first_id)
        assert one["service_request_id"] == first_id
        assert one["address"] == "延陵西路 88 号"
        assert float(one["lat"]) == 31.73 and float(one["long"]) == 119.91
        assert one["requested_datetime"].endswith("+08:00")
        assert one["expected_datetime"]

        with pytest.raises(requests.HTTPError) as caught:
            client.get_service_request("2000010100000000")
        assert caught.value.response.status_code == 404
        with pytest.raises(requests.HTTPError) as caught:
            client.get_service_requests(start_date="2025-01-01T00:00:00Z", end_date="2025-12-31")
        assert caught.value.response.status_code == 400

    # The spec's own example: everything in the form, including the api_key.
    response = requests.post(
        f"{root}/requests.json",
        data={
            "api_key": api_client.api_key,
            "service_code": "BJ0101",
            "lat": "31.73",
            "long": "119.91",
            "description": "A large sinkhole",
            "attribute[hurt]": "yes",
        },
        timeout=30,
    )
    assert response.status_code == 200 and response.json()[0]["service_request_id"]

    # Refusals come back as error arrays a client can show.
    response = post_tip(root, api_client, "xml", lat="91")
    assert response.status_code == 400
    error = xmltodict.parse(response.content)["errors"]["error"]
    assert error["code"] == "400" and "lat" in error["description"]
    response = requests.post(f"{root}/requests.json", data={"api_key": "wrong"}, timeout=30)
    assert response.status_code == 403 and response.json()[0]["code"] == 403

    # Nothing personal in anything the client read.
    everything = requests.get(f"{root}/requests.json", timeout=30).text
    everything += requests.get(f"{root}/requests.xml", timeout=30).text
    for value in PERSONAL:
        assert value not in everything
