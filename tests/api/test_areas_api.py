"""REST API v1 for areas: GeoJSON lists and details with database-side
simplification, point-to-grid lookup, and one error format for every bad
parameter."""

import re

import pytest
from django.contrib.gis.geos import MultiPolygon, Point
from jsonschema import Draft7Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from grids.api import serializers as s
from grids.coords import wgs84_to_gcj02
from grids.models import Area, Level
from tests.api.helpers import client_for
from tests.api.helpers import error as api_error
from tests.cases.conftest import G1, G4, IN_G4
from tests.factories import AreaFactory, rect

pytestmark = pytest.mark.django_db

AREAS = "/api/v1/areas/"
LOCATE = "/api/v1/areas/locate/"
DETAILED = "320402001003"  # a community with a round, finely drawn boundary
CIRCLE_VERTICES = 721


def error(response, status, code):
    body = api_error(response, status, code)
    assert response["Content-Type"] == "application/json"
    return body


def codes_of(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [f["properties"]["code"] for f in response.json()["features"]]


def vertices(geometry: dict) -> int:
    assert geometry["type"] == "MultiPolygon"
    return sum(len(ring) for polygon in geometry["coordinates"] for ring in polygon)


@pytest.fixture
def dispatcher(world) -> APIClient:
    return client_for(world.dispatcher)


@pytest.fixture
def detailed(world) -> Area:
    circle = Point(119.95, 31.72, srid=4326).buffer(0.005, quadsegs=180)
    return AreaFactory(
        level=Level.COMMUNITY,
        code=DETAILED,
        parent=world.city.subdistrict,
        boundary=MultiPolygon(circle, srid=4326),
    )


ALL_CODES = [
    "320400", "320402", "320402001", "320402001001", "320402001001001", "320402001001002",
    "320402001001003", "320402001001004", "320402001002", "320402001002001", "320402002",
    "320404",
]  # fmt: skip


# --- Authentication ---------------------------------------------------------------


@pytest.mark.parametrize("url", [AREAS, f"{AREAS}1/", f"{LOCATE}?lng=119.91&lat=31.73"])
def test_anonymous_requests_are_refused(world, url):
    error(APIClient().get(url), 403, "not_authenticated")


def test_a_bad_token_is_refused(world):
    client = APIClient(HTTP_AUTHORIZATION="Token not-a-token")
    error(client.get(AREAS), 403, "authentication_failed")


def test_signed_in_staff_are_served_by_session_and_by_token(world):
    session = APIClient()
    session.force_login(world.dispatcher)
    assert codes_of(session.get(AREAS)) == ALL_CODES

    token = Token.objects.create(user=world.grid_worker)
    by_token = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert codes_of(by_token.get(f"{AREAS}?code={G1}")) == [G1]


# --- List ---------------------------------------------------------------------------


def test_the_list_is_a_feature_collection_in_code_order(world, dispatcher):
    response = dispatcher.get(AREAS)

    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert (body["count"], body["next"], body["previous"]) == (12, None, None)
    assert [f["properties"]["code"] for f in body["features"]] == ALL_CODES
    g1 = next(f for f in body["features"] if f["properties"]["code"] == G1)
    grid = world.city.grids[G1]
    assert g1["type"] == "Feature" and g1["id"] == grid.id
    assert g1["properties"] == {
        "id": grid.id,
        "code": G1,
        "name": grid.name,
        "name_en": grid.name_en,
        "level": Level.GRID,
        "parent": world.city.community.id,
    }
    # The documented properties are exactly the ones served.
    assert set(g1["properties"]) == set(s.AreaPropertiesSerializer().fields)
    assert g1["geometry"] == {
        "type": "MultiPolygon",
        "coordinates": [[[[119.9, 31.72], [119.92, 31.72], [119.92, 31.74], [119.9, 31.74],
                          [119.9, 31.72]]]],
    }  # fmt: skip
    assert body["features"][0]["properties"]["parent"] is None  # the city


def test_geojson_media_type_on_request(world, dispatcher):
    response = dispatcher.get(AREAS, HTTP_ACCEPT="application/geo+json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    assert response.json()["type"] == "FeatureCollection"
    # An error is not GeoJSON, whatever was asked for.
    error(dispatcher.get(f"{AREAS}?level=9", HTTP_ACCEPT="application/geo+json"), 400, "invalid")
    # A browser can ask for it in the URL; blank or unknown formats are refused.
    assert dispatcher.get(f"{AREAS}?format=geojson")["Content-Type"] == "application/geo+json"
    assert dispatcher.get(f"{AREAS}?format=json")["Content-Type"] == "application/json"
    error(dispatcher.get(f"{AREAS}?format="), 404, "not_found")
    error(dispatcher.get(f"{AREAS}1/?format=xml"), 404, "not_found")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("parent={subdistrict}", ["320402001001", "320402001002"]),
        ("parent={city}", ["320402", "320404"]),
        ("level=3", ["320402001", "320402002"]),
        ("level=5&parent={community}", [G1, "320402001001002", "320402001001003", G4]),
        ("within={community}", ["320402001001", G1, "320402001001002", "320402001001003", G4]),
        ("within={subdistrict}&level=4", ["320402001001", "320402001002"]),
        ("within={community}&level=3", []),
        (f"code={G4}", [G4]),
        ("code=320402999", []),
        # a small box inside G1: G1 and every area containing it
        ("bbox=119.905,31.725,119.906,31.726", ["320400", "320402", "320402001",
                                                "320402001001", G1]),
        # a box over the edge between G1 and G2, grids only
        ("bbox=119.915,31.725,119.925,31.73&level=5", [G1, "320402001001002"]),
        ("bbox=116.3,39.9,116.4,40.0", []),
    ],
)  # fmt: skip
def test_filters(world, dispatcher, query, expected):
    ids = {
        "city": world.city.city.id,
        "subdistrict": world.city.subdistrict.id,
        "community": world.city.community.id,
    }
    response = dispatcher.get(f"{AREAS}?{query.format(**ids)}")

    assert codes_of(response) == expected
    assert response.json()["count"] == len(expected)


def test_pages_link_to_each_other(world, dispatcher):
    page = dispatcher.get(f"{AREAS}?limit=5").json()
    seen = [f["properties"]["code"] for f in page["features"]]
    assert (page["count"], page["previous"]) == (12, None)
    assert "limit=5" in page["next"] and "offset=5" in page["next"]
    pages = 1
    while page["next"]:
        page = dispatcher.get(page["next"]).json()
        seen += [f["properties"]["code"] for f in page["features"]]
        pages += 1
        assert page["count"] == 12 and page["previous"]
    assert pages == 3 and seen == ALL_CODES
    back = dispatcher.get(page["previous"]).json()
    assert [f["properties"]["code"] for f in back["features"]] == ALL_CODES[5:10]
    assert "offset" not in back["previous"]
    assert dispatcher.get(back["previous"]).json()["previous"] is None
    beyond = dispatcher.get(f"{AREAS}?offset=100").json()
    assert (beyond["features"], beyond["count"], beyond["next"]) == ([], 12, None)
    assert len(dispatcher.get(f"{AREAS}?limit={s.MAX_PAGE_SIZE}").json()["features"]) == 12


def test_a_page_of_features_costs_a_fixed_number_of_queries(
    world, dispatcher, django_assert_max_num_queries
):
    community2 = world.city.community2
    for n in range(2, 42):
        x = 119.94 + (n % 8) * 0.0025
        AreaFactory(
            level=Level.GRID,
            code=f"320402001002{n:03d}",
            parent=community2,
            boundary=rect(x, 31.70, x + 0.0025, 31.7025),
        )

    # the area named in ``within``, the page, the total
    with django_assert_max_num_queries(3):
        response = dispatcher.get(f"{AREAS}?within={community2.id}&level=5&limit=30")
    body = response.json()
    assert len(body["features"]) == 30 and body["count"] == 41 and body["next"]


# --- Simplification ---------------------------------------------------------------


def test_boundaries_are_simplified_by_level_unless_asked_otherwise(world, dispatcher, detailed):
    def served(query: str = "") -> dict:
        return dispatcher.get(f"{AREAS}?code={DETAILED}{query}").json()["features"][0]["geometry"]

    full = served("&simplify=0")
    by_level = served()
    coarse = served("&simplify=100")

    assert vertices(full) == CIRCLE_VERTICES == detailed.boundary.num_points
    assert full["coordinates"][0][0][:3] == [
        [round(x, 8), round(y, 8)] for x, y in detailed.boundary[0][0][:3]
    ]
    assert 4 <= vertices(coarse) < vertices(by_level) < CIRCLE_VERTICES / 4
    # Rectangles have nothing to lose.
    assert vertices(dispatcher.get(f"{AREAS}?code={G1}&simplify=1000").json()["features"][0][
        "geometry"
    ]) == 5  # fmt: skip


def test_the_detail_takes_the_same_simplification(world, dispatcher, detailed):
    url = f"{AREAS}{detailed.id}/"

    assert vertices(dispatcher.get(f"{url}?simplify=0").json()["geometry"]) == CIRCLE_VERTICES
    assert vertices(dispatcher.get(url).json()["geometry"]) < CIRCLE_VERTICES / 4


# --- Detail -------------------------------------------------------------------------


def test_detail_is_a_feature_with_its_ancestors(world, dispatcher, django_assert_max_num_queries):
    grid = world.city.grids[G4]

    with django_assert_max_num_queries(2):
        response = dispatcher.get(f"{AREAS}{grid.id}/")

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    assert (body["type"], body["id"], body["geometry"]["type"]) == (
        "Feature",
        grid.id,
        "MultiPolygon",
    )
    properties = body["properties"]
    assert set(properties) == set(s.AreaDetailPropertiesSerializer().fields)
    assert (properties["code"], properties["level"]) == (G4, Level.GRID)
    assert properties["parent"] == world.city.community.id
    chain = [world.city.city, world.city.district, world.city.subdistrict, world.city.community]
    assert properties["ancestors"] == [
        {"id": a.id, "code": a.code, "name": a.name, "name_en": a.name_en, "level": a.level}
        for a in chain
    ]


def test_the_city_has_no_ancestors(world, dispatcher):
    properties = dispatcher.get(f"{AREAS}{world.city.city.id}/").json()["properties"]

    assert (properties["parent"], properties["ancestors"]) == (None, [])


@pytest.mark.parametrize("key", ["parent", "within"])
def test_a_filter_naming_an_unknown_area_is_not_found(world, dispatcher, key):
    body = error(dispatcher.get(f"{AREAS}?{key}=999999"), 404, "not_found")

    assert f"{key}=999999" in body["message"]


@pytest.mark.parametrize(
    "area_id", ["999999", "0", "abc", "1e3", "0.5", "-1", "1_0", "99999999999999999999999"]
)
def test_an_unknown_area_is_not_found(world, dispatcher, area_id):
    error(dispatcher.get(f"{AREAS}{area_id}/"), 404, "not_found")


def test_an_id_with_trailing_junk_is_not_found(world, dispatcher):
    city = world.city.city.id
    for junk in ("%0A", "%20", ".0", "/x"):
        assert dispatcher.get(f"{AREAS}{city}{junk}/").status_code == 404, junk


# --- Point to grid ------------------------------------------------------------------


def test_locate_a_point_inside_a_grid(world, dispatcher):
    response = dispatcher.get(f"{LOCATE}?lng={IN_G4[0]}&lat={IN_G4[1]}")

    assert response.status_code == 200, response.content
    body = response.json()
    grid = world.city.grids[G4]
    assert body["grid"] == {
        "id": grid.id, "code": G4, "name": grid.name, "name_en": grid.name_en, "level": 5,
    }  # fmt: skip
    assert [(a["code"], a["level"]) for a in body["ancestors"]] == [
        ("320400", 1), ("320402", 2), ("320402001", 3), ("320402001001", 4),
    ]  # fmt: skip
    assert body["point"] == {"lng": IN_G4[0], "lat": IN_G4[1]}


@pytest.mark.parametrize(
    ("lng", "lat", "expected"),
    [(119.92, 31.73, G1), (119.92, 31.72, G1), (119.93, 31.72, "320402001001002")],
)
def test_a_point_on_a_shared_edge_goes_to_the_lowest_code(world, dispatcher, lng, lat, expected):
    assert dispatcher.get(f"{LOCATE}?lng={lng}&lat={lat}").json()["grid"]["code"] == expected


def test_a_gcj02_point_is_converted_before_the_lookup(world, dispatcher):
    wgs = (119.919, 31.735)  # in G1, 100 m from its eastern edge
    gcj = wgs84_to_gcj02(*wgs)

    body = dispatcher.get(f"{LOCATE}?lng={gcj[0]}&lat={gcj[1]}&crs=gcj02").json()

    assert body["grid"]["code"] == G1
    assert body["point"]["lng"] == pytest.approx(wgs[0], abs=1e-7)
    assert body["point"]["lat"] == pytest.approx(wgs[1], abs=1e-7)
    # Read as WGS-84, the same numbers land in the neighbouring grid: never guess.
    as_wgs = dispatcher.get(f"{LOCATE}?lng={gcj[0]}&lat={gcj[1]}&crs=wgs84").json()
    assert as_wgs["grid"]["code"] == "320402001001002"


@pytest.mark.parametrize(
    ("lng", "lat"),
    [(116.397, 39.909), (119.95, 31.705)],  # Beijing; the gap in community 2 no grid covers
)
def test_a_point_in_no_grid_is_outside_the_jurisdiction(world, dispatcher, lng, lat):
    body = error(dispatcher.get(f"{LOCATE}?lng={lng}&lat={lat}"), 404, "outside_jurisdiction")

    assert str(lng) in body["message"] and str(lat) in body["message"]


# --- Bad parameters -----------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "parent=abc", "parent=0", "parent=-1", "parent=1.5", "parent=99999999999999999999999",
        "parent=", "within=x", "within=", "level=",
        "level=9", "level=0", "level=grid", "code=", "code=abc", "code=12345",
        "code=3204020010010011", "bbox=", "bbox=1,2,3", "bbox=1,2,3,4,5", "bbox=a,b,c,d",
        "bbox=5,5,1,1", "bbox=1,1,1,1", "bbox=nan,0,1,1", "bbox=0,0,inf,1", "bbox=-200,0,1,1",
        "bbox=0,-91,1,1", "simplify=", "simplify=-1", "simplify=nan", "simplify=inf",
        "simplify=abc", "simplify=1e9", "limit=", "limit=0", "limit=501", "limit=x",
        "offset=-1", "offset=abc", "offset=99999999999999999999",
    ],
)  # fmt: skip
def test_bad_list_parameters_are_named(world, dispatcher, query):
    body = error(dispatcher.get(f"{AREAS}?{query}"), 400, "invalid")

    assert list(body["fields"]) == [query.split("=")[0]]


@pytest.mark.parametrize("query", ["simplify=-1", "simplify=nan", "simplify=1001"])
def test_bad_detail_parameters_are_named(world, dispatcher, query):
    body = error(dispatcher.get(f"{AREAS}{world.city.city.id}/?{query}"), 400, "invalid")

    assert list(body["fields"]) == ["simplify"]


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("", {"lng", "lat"}),
        ("lat=31.7", {"lng"}),
        ("lng=119.9", {"lat"}),
        ("lng=abc&lat=31.7", {"lng"}),
        ("lng=119.9&lat=nan", {"lat"}),
        ("lng=inf&lat=31.7", {"lng"}),
        ("lng=181&lat=31.7", {"lng"}),
        ("lng=119.9&lat=-91", {"lat"}),
        ("lng=1e999&lat=31.7", {"lng"}),
        ("lng=119.9&lat=31.7&crs=bd09", {"crs"}),
        ("lng=119.9&lat=31.7&crs=WGS", {"crs"}),
        ("lng=119.9&lat=31.7&crs=", {"crs"}),
        ("lng=&lat=", {"lng", "lat"}),
    ],
)
def test_bad_locate_parameters_are_named(world, dispatcher, query, fields):
    body = error(dispatcher.get(f"{LOCATE}?{query}"), 400, "invalid")

    assert set(body["fields"]) == fields


def _as_json_schema(node):
    """OpenAPI 3.0 writes ``nullable: true``; JSON Schema wants a null type."""
    if isinstance(node, dict):
        node = {key: _as_json_schema(value) for key, value in node.items()}
        if node.pop("nullable", False) and "type" in node:
            node["type"] = [node["type"], "null"]
        return node
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    return node


def test_responses_match_the_openapi_schema(world, dispatcher, detailed):
    response = dispatcher.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    document = _as_json_schema(response.json())
    paths = document["paths"]
    assert {"/api/v1/areas/", "/api/v1/areas/{id}/", "/api/v1/areas/locate/"} <= set(paths)
    assert "application/geo+json" in paths["/api/v1/areas/"]["get"]["responses"]["200"]["content"]
    registry = Registry().with_resource("urn:openapi", Resource(document, DRAFT7))

    def check(component: str, instance) -> None:
        ref = {"$ref": f"urn:openapi#/components/schemas/{component}"}
        Draft7Validator(ref, registry=registry).validate(instance)

    check("AreaFeatureCollection", dispatcher.get(f"{AREAS}?limit=3").json())
    check("AreaFeatureCollection", dispatcher.get(f"{AREAS}?simplify=0").json())
    check("AreaDetailFeature", dispatcher.get(f"{AREAS}{detailed.id}/").json())
    check("AreaDetailFeature", dispatcher.get(f"{AREAS}{world.city.city.id}/").json())
    check("LocatedPoint", dispatcher.get(f"{LOCATE}?lng={IN_G4[0]}&lat={IN_G4[1]}").json())
    check("Error", dispatcher.get(f"{AREAS}?bbox=1,2,3").json())
    check("Error", dispatcher.get(f"{LOCATE}?lng=0&lat=0").json())
    with pytest.raises(ValidationError):  # the check can fail
        check("AreaDetailFeature", dispatcher.get(f"{AREAS}?limit=3").json())


def test_bad_filters_and_bad_paging_are_named_in_one_answer(world, dispatcher):
    body = error(dispatcher.get(f"{AREAS}?level=9&limit=0&bbox=1,2,3&code="), 400, "invalid")

    assert sorted(body["fields"]) == ["bbox", "code", "level", "limit"]


def test_the_list_documents_every_parameter_with_its_bounds(world, dispatcher):
    operation = dispatcher.get("/api/v1/schema/?format=json").json()["paths"][AREAS]["get"]
    schemas = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}

    assert set(schemas) == {
        "parent", "within", "level", "code", "bbox", "simplify", "limit", "offset", "format"
    }  # fmt: skip
    for key in ("parent", "within"):
        assert (schemas[key]["minimum"], schemas[key]["maximum"]) == (1, s.MAX_ID)
    assert schemas["level"]["enum"] == [1, 2, 3, 4, 5]
    assert schemas["code"]["pattern"] == "^[0-9]{6,15}$"
    assert (schemas["limit"]["minimum"], schemas["limit"]["maximum"]) == (1, s.MAX_PAGE_SIZE)
    # a blank value is refused (see test_bad_list_parameters_are_named): so says the schema
    assert schemas["code"]["minLength"] == schemas["bbox"]["minLength"] == 1
    for value, valid in (("119.9,31.7,119.96,31.74", True), ("1,2,3", False)):
        assert bool(re.match(schemas["bbox"]["pattern"], value)) is valid
