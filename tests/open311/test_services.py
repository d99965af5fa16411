"""Open311 discovery, service list and service definitions, in XML and JSON."""

from __future__ import annotations

import pytest
from django.test import Client

from cases.models import Category

from .conftest import as_json, as_xml, errors, rows

pytestmark = pytest.mark.django_db

BASE = "/open311/v2"


@pytest.fixture
def client() -> Client:
    return Client()


def test_discovery_lists_this_endpoint_and_both_formats(client, world):
    body = as_json(client.get(f"{BASE}/discovery.json"))
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert endpoint["changeset"] == body["changeset"]

    root = as_xml(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert [c.tag for c in root] == ["changeset", "contact", "key_service", "endpoints"]
    (xml_endpoint,) = root.find("endpoints")
    assert xml_endpoint.tag == "endpoint"
    assert xml_endpoint.findtext("url") == endpoint["url"]
    assert [f.text for f in xml_endpoint.find("formats")] == endpoint["formats"]
    assert [f.tag for f in xml_endpoint.find("formats")] == ["format", "format"]


def test_the_service_list_has_only_active_categories_citizens_may_choose(client, questions):
    retired = Category.objects.get(code="BJ0102")
    retired.is_active = False
    retired.save()
    services = as_json(client.get(f"{BASE}/services.json"))
    codes = [s["service_code"] for s in services]
    expected = list(Category.objects.for_citizens().values_list("code", flat=True))
    assert codes == sorted(expected) and len(codes) > 50
    assert "BJ0115" not in codes  # telecom junction box: not for citizens
    assert "BJ0102" not in codes  # retired
    first = services[0]
    assert list(first) == [
        "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
    ]  # fmt: skip
    assert first == {
        "service_code": "BJ0101",
        "service_name": "Water supply manhole cover",
        "description": "Water supply manhole cover (上水井盖)",
        "metadata": True,
        "type": "realtime",
        "keywords": "BJ0101, 上水井盖, Water supply manhole cover, 公用设施, Public facilities",
        "group": "Components/Public facilities",
    }
    by_code = {s["service_code"]: s for s in services}
    assert by_code["BJ0103"]["metadata"] is False
    assert by_code["SJ0101"]["group"].startswith("Incidents/")

    root = as_xml(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services" and {c.tag for c in root} == {"service"}
    xml_services = rows(root)
    assert [s["service_code"] for s in xml_services] == codes
    assert xml_services[0]["metadata"] == "true" and xml_services[0]["type"] == "realtime"
    assert xml_services[0]["group"] == "Components/Public facilities"


def test_names_follow_the_language_and_chinese_round_trips_in_utf8(client, world):
    response = client.get(f"{BASE}/services.xml", HTTP_ACCEPT_LANGUAGE="zh-hans")
    first = rows(as_xml(response))[0]
    assert first["service_name"] == "上水井盖"
    assert first["group"] == "部件/公用设施"
    assert "上水井盖".encode() in response.content  # UTF-8, not character references
    body = as_json(client.get(f"{BASE}/services.json", HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert body[0]["service_name"] == "上水井盖"


def test_a_service_definition_lists_its_questions_in_order(client, questions):
    body = as_json(client.get(f"{BASE}/services/BJ0101.json"))
    assert body["service_code"] == "BJ0101"
    codes = [a["code"] for a in body["attributes"]]
    assert codes == ["hurt", "size", "depth", "seen", "landmark", "details", "notice"]
    hurt = body["attributes"][0]
    assert hurt == {
        "variable": True,
        "code": "hurt",
        "datatype": "singlevaluelist",
        "required": True,
        "datatype_description": None,
        "order": 1,
        "description": "Is anyone hurt?",
        "values": [{"key": "yes", "name": "是"}, {"key": "no", "name": "否"}],
    }
    assert [a["order"] for a in body["attributes"]] == [1, 2, 3, 4, 5, 6, 7]
    notice = body["attributes"][-1]
    assert notice["variable"] is False and notice["values"] == []
    assert body["attributes"][2]["datatype"] == "number"

    root = as_xml(client.get(f"{BASE}/services/BJ0101.xml", HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "BJ0101"
    attributes = root.find("attributes")
    assert [a.tag for a in attributes] == ["attribute"] * 7
    first = attributes[0]
    assert [c.tag for c in first] == [
        "variable", "code", "datatype", "required", "datatype_description", "order",
        "description", "values",
    ]  # fmt: skip
    assert first.findtext("variable") == "true" and first.findtext("required") == "true"
    assert first.findtext("description") == "有人受伤吗?"
    values = first.find("values")
    assert [v.tag for v in values] == ["value", "value"]
    pairs = [(v.findtext("key"), v.findtext("name")) for v in values]
    assert pairs == [("yes", "是"), ("no", "否")]


def test_a_category_without_questions_has_an_empty_definition(client, world):
    assert as_json(client.get(f"{BASE}/services/BJ0103.json")) == {
        "service_code": "BJ0103",
        "attributes": [],
    }
    root = as_xml(client.get(f"{BASE}/services/BJ0103.xml"))
    assert root.find("attributes") is not None and len(root.find("attributes")) == 0


@pytest.mark.parametrize("code", ["XX9999", "BJ0115", "bj0101"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_service_is_404_in_the_asked_format(client, world, code, fmt):
    (description,) = errors(client.get(f"{BASE}/services/{code}.{fmt}"), 404)
    assert "service_code" in description and code in description


@pytest.mark.parametrize(
    "path",
    ["services.yaml", "services.JSON", "services", "discovery.html", "requests/1.txt",
     "tokens/abc.csv", "nothing.json", "services/BJ0101.json/extra", ""],
)  # fmt: skip
def test_an_unknown_format_or_path_is_a_404_error_array(client, world, path):
    response = client.get(f"{BASE}/{path}")
    assert errors(response, 404)


def test_a_wrong_method_is_refused_with_an_error_array(client, world):
    assert errors(client.post(f"{BASE}/services.json"), 405)
    assert errors(client.delete(f"{BASE}/requests.xml"), 405)


def test_open311_is_not_in_the_api_schema(world):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert schema["paths"]
    assert not [p for p in schema["paths"] if "open311" in p]
