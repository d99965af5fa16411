"""Factories for tests."""

from __future__ import annotations

import factory
from django.contrib.gis.geos import MultiPolygon, Polygon

from grids.models import Area, Level
from organisation.models import User

DEMO_PASSWORD = "correct horse battery"


def rect(x0: float, y0: float, x1: float, y1: float) -> MultiPolygon:
    return MultiPolygon(Polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))), srid=4326)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Faker("name", locale="zh_CN")
    password = factory.django.Password(DEMO_PASSWORD)


class AreaFactory(factory.django.DjangoModelFactory):
    """An area with a rectangular boundary: pass ``level``, ``code``, ``parent``
    and ``boundary`` (see ``rect``)."""

    class Meta:
        model = Area

    level = Level.CITY
    code = "320400"
    name = factory.LazyAttribute(lambda o: f"区域{o.code}")
    name_en = factory.LazyAttribute(lambda o: f"Area {o.code}")
    parent = None
    boundary = factory.LazyFunction(lambda: rect(119.0, 31.0, 120.0, 32.0))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        area = super()._create(model_class, *args, **kwargs)
        area.refresh_from_db(fields=["path"])  # set by the database
        return area
