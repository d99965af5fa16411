"""The rules of the tree, enforced by the service and by the database."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from grids.models import Area, Level
from grids.services import area_create
from tests.factories import AreaFactory, rect

pytestmark = pytest.mark.django_db

BOX = rect(119.90, 31.70, 119.94, 31.74)


def test_service_builds_the_five_levels_with_paths(small_city):
    grid = small_city.grids["320402001001002"]

    assert grid.path == (
        f"/{small_city.city.id}/{small_city.district.id}/{small_city.subdistrict.id}/"
        f"{small_city.community.id}/{grid.id}/"
    )
    assert grid.ancestor_ids[-1] == grid.id


def test_subtree_is_one_prefix_query(small_city, django_assert_num_queries):
    with django_assert_num_queries(1):
        codes = list(Area.objects.subtree(small_city.subdistrict).values_list("code", flat=True))

    assert codes == [
        "320402001",
        "320402001001",
        "320402001001001",
        "320402001001002",
        "320402001001003",
        "320402001001004",
        "320402001002",
        "320402001002001",
    ]
    assert small_city.subdistrict.code not in Area.objects.subtree(
        small_city.subdistrict, include_self=False
    ).values_list("code", flat=True)


def test_service_refuses_a_child_two_levels_below_its_parent(small_city):
    with pytest.raises(ValidationError) as caught:
        area_create(
            level=Level.GRID,
            code="320402001009",
            name="x",
            boundary=BOX,
            parent=small_city.subdistrict,
        )
    assert "parent" in caught.value.message_dict
    assert not Area.objects.filter(code="320402001009").exists()


def test_service_refuses_a_code_that_does_not_extend_the_parent(small_city):
    with pytest.raises(ValidationError) as caught:
        area_create(
            level=Level.COMMUNITY,
            code="320404001003",
            name="x",
            boundary=BOX,
            parent=small_city.subdistrict,
        )
    assert "code" in caught.value.message_dict


def test_service_refuses_a_non_polygon_boundary(small_city):
    from django.contrib.gis.geos import Point

    with pytest.raises(ValidationError, match="polygon"):
        area_create(
            level=Level.COMMUNITY,
            code="320402001003",
            name="x",
            boundary=Point(119.9, 31.7),
            parent=small_city.subdistrict,
        )


def test_service_refuses_a_duplicate_code(small_city):
    with pytest.raises(ValidationError, match="exists"):
        area_create(
            level=Level.COMMUNITY,
            code="320402001001",
            name="x",
            boundary=BOX,
            parent=small_city.subdistrict,
        )


def test_database_refuses_a_child_two_levels_below_its_parent(small_city):
    with pytest.raises(IntegrityError, match="exactly one level below"), transaction.atomic():
        Area.objects.create(
            level=Level.GRID,
            code="320402001001009",
            name="x",
            boundary=BOX,
            parent=small_city.subdistrict,
        )


def test_database_refuses_a_code_that_does_not_extend_the_parent(small_city):
    with pytest.raises(IntegrityError, match="must extend"), transaction.atomic():
        Area.objects.create(
            level=Level.GRID,
            code="320404001001009",
            name="x",
            boundary=BOX,
            parent=small_city.community,
        )


def test_database_refuses_a_city_with_a_parent_and_an_orphan_district(small_city):
    with pytest.raises(IntegrityError), transaction.atomic():
        Area.objects.create(
            level=Level.CITY, code="320500", name="x", boundary=BOX, parent=small_city.city
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Area.objects.create(level=Level.DISTRICT, code="320405", name="x", boundary=BOX)


def test_database_refuses_a_malformed_code(small_city):
    with pytest.raises(IntegrityError), transaction.atomic():
        Area.objects.create(
            level=Level.COMMUNITY,
            code="32040200100X",
            name="x",
            boundary=BOX,
            parent=small_city.subdistrict,
        )


def test_database_refuses_a_level_change(small_city):
    grid = small_city.grids["320402001001001"]
    with pytest.raises(IntegrityError, match="level"), transaction.atomic():
        Area.objects.filter(pk=grid.pk).update(level=Level.COMMUNITY)


def test_database_refuses_a_code_change_on_an_area_with_children(small_city):
    with pytest.raises(IntegrityError, match="children"), transaction.atomic():
        Area.objects.filter(pk=small_city.community.pk).update(code="320402001009")


def test_recoding_an_empty_community_under_another_subdistrict(small_city):
    other = AreaFactory(
        level=Level.SUBDISTRICT,
        code="320402002",
        parent=small_city.district,
        boundary=rect(119.80, 31.60, 119.90, 31.70),
    )
    community = small_city.community2
    grid = small_city.grids["320402001002001"]

    # Codes follow the parent, so a move is a re-coding of the leaf first.
    Area.objects.filter(pk=grid.pk).delete()
    community.parent = other
    community.code = "320402002001"
    community.save()
    moved_grid = AreaFactory(
        level=Level.GRID,
        code="320402002001001",
        parent=community,
        boundary=rect(119.94, 31.72, 119.96, 31.74),
    )

    community.refresh_from_db()
    assert community.path == f"{other.path}{community.id}/"
    assert moved_grid.path.startswith(community.path)


def test_reparenting_rewrites_the_whole_subtree_path(small_city):
    # Given a district with a three-level subtree in the city
    district = AreaFactory(
        level=Level.DISTRICT, code="320411", parent=small_city.city, boundary=BOX
    )
    sub = AreaFactory(level=Level.SUBDISTRICT, code="320411001", parent=district, boundary=BOX)
    com = AreaFactory(level=Level.COMMUNITY, code="320411001001", parent=sub, boundary=BOX)
    grid = AreaFactory(level=Level.GRID, code="320411001001001", parent=com, boundary=BOX)
    second_city = AreaFactory(level=Level.CITY, code="320500", boundary=BOX)

    # When the district is re-parented in one UPDATE
    Area.objects.filter(pk=district.pk).update(parent=second_city)

    # Then every descendant's path follows, and nothing else moves
    district.refresh_from_db()
    assert district.path == f"/{second_city.id}/{district.id}/"
    for area in (sub, com, grid):
        area.refresh_from_db()
        assert area.path.startswith(district.path)
    assert grid.path == f"/{second_city.id}/{district.id}/{sub.id}/{com.id}/{grid.id}/"
    small_city.grids["320402001001001"].refresh_from_db()
    assert small_city.grids["320402001001001"].path.startswith(f"/{small_city.city.id}/")


def test_database_refuses_to_put_a_city_under_its_district(small_city):
    with pytest.raises(IntegrityError), transaction.atomic():
        Area.objects.filter(pk=small_city.city.pk).update(parent=small_city.district)


def test_level_counts(small_city):
    assert Area.objects.level_counts() == {
        "city": 1,
        "district": 1,
        "subdistrict": 1,
        "community": 2,
        "grid": 5,
    }


def test_form_validation_explains_a_missing_level_and_a_bad_boundary(small_city):
    from django.contrib.gis.geos import MultiPolygon, Polygon

    area = Area(level=None, code="320402001003", name="x", parent=small_city.subdistrict)
    with pytest.raises(ValidationError) as caught:
        area.clean()
    assert "level" in caught.value.message_dict

    bowtie = MultiPolygon(
        Polygon(((119.9, 31.7), (119.93, 31.74), (119.93, 31.7), (119.9, 31.74), (119.9, 31.7))),
        srid=4326,
    )
    area = Area(
        level=Level.COMMUNITY,
        code="320402001003",
        name="x",
        parent=small_city.subdistrict,
        boundary=bowtie,
    )
    with pytest.raises(ValidationError) as caught:
        area.clean()
    assert "Self-intersection" in " ".join(caught.value.message_dict["boundary"])


def test_form_validation_refuses_recoding_an_area_with_children(small_city):
    community = small_city.community
    community.code = "320402001009"

    with pytest.raises(ValidationError) as caught:
        community.clean()

    assert "children" in " ".join(caught.value.message_dict["code"])


def test_subtree_of_an_area_without_its_path_is_refused(small_city):
    with pytest.raises(ValueError, match="no path"):
        Area.objects.subtree(Area(code="320402001"))
