"""Open311 GeoReport v2 output in its two formats.

The JSON is the XML mapped by the Spark convention the specification uses: a
list element (``<services>``, ``<attributes>``, ``<values>``…) becomes a JSON
array of its items, every other element a key. One data structure of dicts,
lists and scalars is rendered either way:

    [{"service_code": "BJ0101", …}]   ⇄   <services><service><service_code>BJ0101…

XML is written with the standard library (``xml.etree``), which escapes text;
characters XML 1.0 cannot carry (control characters, lone surrogates) are
dropped, so every response is well-formed UTF-8.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from xml.etree import ElementTree as ET

from django.http import HttpResponse

JSON = "json"
XML = "xml"
FORMATS = (XML, JSON)
CONTENT_TYPES = {
    JSON: "application/json; charset=utf-8",
    XML: "text/xml; charset=utf-8",
}
# The MIME types announced by discovery.
MIME_TYPES = {XML: "text/xml", JSON: "application/json"}
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'

# The element of each item of a list element.
ITEM = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}

_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean_text(value: str) -> str:
    """``value`` without the characters XML 1.0 (and UTF-8) cannot carry."""
    return _NOT_XML.sub("", value)


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return clean_text(str(value))


def _element(tag: str, value) -> ET.Element:
    element = ET.Element(tag)
    if value is None:
        return element
    if isinstance(value, list | tuple):
        item = ITEM[tag]
        for each in value:
            element.append(_element(item, each))
    elif isinstance(value, Mapping):
        for key, each in value.items():
            element.append(_element(key, each))
    else:
        element.text = _scalar(value)
    return element


def to_xml(root: str, data) -> str:
    """The XML document of ``data`` under the element ``root``."""
    body = ET.tostring(_element(root, data), encoding="unicode", short_empty_elements=True)
    return f"{XML_DECLARATION}\n{body}\n"


def _json_safe(value):
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {key: _json_safe(each) for key, each in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(each) for each in value]
    if isinstance(value, Decimal):
        return float(value)
    return value


def to_json(data) -> str:
    return json.dumps(_json_safe(data), ensure_ascii=False, separators=(",", ":"))


def render(data, fmt: str, *, root: str, status: int = 200, headers=None) -> HttpResponse:
    """``data`` as an Open311 response in ``fmt`` (``xml`` or ``json``)."""
    if fmt == JSON:
        content = to_json(data)
    else:
        fmt = XML
        content = to_xml(root, data)
    response = HttpResponse(content.encode("utf-8"), status=status, content_type=CONTENT_TYPES[fmt])
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def render_errors(errors: list[tuple[int, str]], fmt: str, *, status: int, headers=None):
    """An Open311 error array: ``[{"code": 404, "description": "…"}]``."""
    data = [{"code": code, "description": str(description)} for code, description in errors]
    return render(data, fmt, root="errors", status=status, headers=headers)
