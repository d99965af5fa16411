"""Open311 fixtures: the small working city of tests/cases, an API client
(an app posting on its own key) and a category with questions of every type."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest

from cases.models import ApiClient, AttributeType, Category, CategoryAttribute
from tests.cases.conftest import world  # noqa: F401 - the same small working city

YES_NO = [{"key": "yes", "name": "是"}, {"key": "no", "name": "否"}]
SIZES = [{"key": "s", "name": "小"}, {"key": "m", "name": "中"}, {"key": "l", "name": "大"}]


@pytest.fixture
def api_client(db) -> ApiClient:
    return ApiClient.objects.create(name="随手拍 app", api_key="test-key-0123456789")


@pytest.fixture
def questions(world) -> Category:  # noqa: F811 - the imported fixture
    """BJ0101 (the world's category) asks one question of each Open311 type."""
    category = world.category
    rows = [
        ("hurt", AttributeType.SINGLE, True, "有人受伤吗?", "Is anyone hurt?", YES_NO),
        ("size", AttributeType.MULTI, False, "缺口大小", "How big is the hole?", SIZES),
        ("depth", AttributeType.NUMBER, False, "深度(米)", "Depth in metres", []),
        ("seen", AttributeType.DATETIME, False, "发现时间", "When did you see it?", []),
        ("landmark", AttributeType.STRING, False, "附近地标", "Nearby landmark", []),
        ("details", AttributeType.TEXT, False, "补充说明", "Anything else?", []),
    ]
    for order, (code, kind, required, zh, en, values) in enumerate(rows, start=1):
        CategoryAttribute.objects.create(
            category=category,
            code=code,
            datatype=kind,
            required=required,
            description=zh,
            description_en=en,
            order=order,
            values=values,
        )
    CategoryAttribute.objects.create(
        category=category,
        code="notice",
        datatype=AttributeType.STRING,
        variable=False,
        description="请注意安全, 远离井口",
        description_en="Keep away from the open manhole.",
        order=99,
    )
    return category


# --- Reading responses as a client does -------------------------------------------------

XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
W3C = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$"


def as_json(response, status: int = 200):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(response.content.decode("utf-8"))


def as_xml(response, status: int = 200) -> ET.Element:
    """The parsed document, after checking the declaration and content type."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    text = response.content.decode("utf-8")
    assert text.startswith(XML_DECLARATION + "\n"), text[:80]
    return ET.fromstring(response.content)  # noqa: S314 - our own output


def errors(response, status: int) -> list[str]:
    """The descriptions of an Open311 error array (either format), each with
    the HTTP status as its code."""
    if response["Content-Type"].startswith("application/json"):
        body = as_json(response, status)
        assert isinstance(body, list) and body
        assert all(set(e) == {"code", "description"} for e in body), body
        assert all(e["code"] == status for e in body), body
        return [e["description"] for e in body]
    root = as_xml(response, status)
    assert root.tag == "errors" and len(root), response.content
    out = []
    for error in root:
        assert error.tag == "error"
        assert [child.tag for child in error] == ["code", "description"]
        assert error.findtext("code") == str(status)
        out.append(error.findtext("description"))
    return out


def rows(root: ET.Element) -> list[dict]:
    """``<service_requests><request>…`` (or ``<services><service>``) as dicts of text."""
    return [{child.tag: child.text for child in item} for item in root]
