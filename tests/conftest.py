"""Shared fixtures.

``small_city`` is a complete miniature tree near Changzhou, laid out so that
the point-to-grid rules can be tested on interiors, shared edges, a shared
vertex and a gap:

    31.74 +--------+--------+--------+
          |  G001  |  G002  |  G005  |    grids of community C001 (G001, G002,
    31.72 +--------+--------+  (gap  |    G003, G004) tile x 119.90-119.94;
          |  G003  |  G004  |  is in |    G005 covers only the north half of
    31.70 +--------+--------+  C002) |    community C002 (x 119.94-119.96):
       119.90   119.92   119.94   119.96  the south half is a gap.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from django.test import TestCase, TransactionTestCase
from django.utils import translation
from pytest_django.fixtures import validate_django_db

from core.config_cache import ConfigCache
from core.dbroles import as_owner
from grids.models import Area, Level
from tests.factories import AreaFactory, rect


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "replica: builds a streaming hot standby of the test cluster (tests/standby.py)"
    )
    config.addinivalue_line(
        "markers", "backup: backs up and restores a throwaway cluster with pgBackRest"
    )


def in_browser(item) -> bool:
    """Whether ``item`` drives a browser (Playwright: tests/e2e/conftest.py)."""
    return "browser" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(session, config, items):
    """Browser tests run last. Playwright's sync API runs the test code in a
    greenlet with its own context, where Django hands out other connection
    objects: ones without the serialized database that transactional tests
    restore. Their flush then re-creates content types under new ids, and a
    later serialized_rollback test could no longer restore the migrated data
    (categories, calendar). Nothing transactional follows them at the end."""
    items.sort(key=in_browser)


# --- Transactional tests restore the migrated rows ------------------------------------
# A transactional test ends with a flush. Without serialized rollback that
# flush re-creates the content types (and permissions) under new ids, and a
# serialized-rollback test after it can no longer restore the migrated rows
# that refer to the old ones. So every transactional test restores them; the
# browser tests alone cannot (see above), and run after every other test.

UNRESTORED_MESSAGE = (
    "{name} commits for real (a transactional test) without serialized rollback: its "
    "flush would re-create the content types under new ids and break later "
    "serialized-rollback tests. Mark it "
    "@pytest.mark.django_db(transaction=True, serialized_rollback=True)."
)


def flushes_without_restoring(item) -> bool:
    """Whether ``item`` is a transactional test without serialized rollback
    (pytest-django's own reading of its marker and fixtures), outside a browser."""
    if in_browser(item):
        return False
    fixtures = set(getattr(item, "fixturenames", ()))
    transactional = serialized = False
    marker = item.get_closest_marker("django_db")
    if marker is not None:
        transaction, reset_sequences, _databases, serialized, _apps = validate_django_db(marker)
        transactional = transaction or reset_sequences
    cls = getattr(item, "cls", None)
    if isinstance(cls, type) and issubclass(cls, TransactionTestCase):
        transactional = not issubclass(cls, TestCase)
        serialized = cls.serialized_rollback
    transactional = transactional or bool(fixtures & {"transactional_db", "live_server"})
    serialized = serialized or "django_db_serialized_rollback" in fixtures
    return transactional and not serialized


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Refuse such a test before any fixture runs (nothing is flushed)."""
    if flushes_without_restoring(item):
        pytest.fail(UNRESTORED_MESSAGE.format(name=item.nodeid), pytrace=False)


# --- Database roles ------------------------------------------------------------------
# The test database is created, migrated and dropped by the owner role, as
# production migrates; the code under test runs as the runtime role, as the
# web server and Celery do. Django's own plumbing between transactional tests
# (flush is a TRUNCATE, serialized rollback reloads rows and resets sequences)
# is the owner's too.


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Runs before pytest-django creates the test database: as the owner."""
    with ExitStack() as owner:
        owner.enter_context(as_owner())
        yield owner


@pytest.fixture(scope="session")
def django_db_setup(django_db_modify_db_settings, django_db_setup, django_db_blocker):
    """From here on the runtime role, until pytest-django drops the database."""
    original = (TransactionTestCase._fixture_setup, TransactionTestCase._fixture_teardown)

    @classmethod
    def fixture_setup(cls):
        with as_owner():
            original[0].__func__(cls)

    def fixture_teardown(self):
        with as_owner():
            original[1](self)

    with django_db_blocker.unblock():
        django_db_modify_db_settings.close()  # the runtime role from here
    TransactionTestCase._fixture_setup = fixture_setup
    TransactionTestCase._fixture_teardown = fixture_teardown
    yield
    TransactionTestCase._fixture_setup, TransactionTestCase._fixture_teardown = (
        classmethod(original[0].__func__),
        original[1],
    )
    with django_db_blocker.unblock():
        django_db_modify_db_settings.enter_context(as_owner())  # to drop the database


@pytest.fixture(autouse=True)
def _settings_language():
    """Each test starts in the settings' language: a request through the test
    client leaves the language it asked for active in the thread
    (LocaleMiddleware activates it and nothing deactivates it)."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_config_caches():
    """Per-process configuration caches must not carry what another test
    stored and rolled back: a rollback sends no signal."""
    ConfigCache.clear_all()
    yield
    ConfigCache.clear_all()


CITY_BOX = (119.80, 31.60, 120.10, 31.90)
COMMUNITY_1 = (119.90, 31.70, 119.94, 31.74)
COMMUNITY_2 = (119.94, 31.70, 119.96, 31.74)


@dataclass
class SmallCity:
    city: Area
    district: Area
    subdistrict: Area
    community: Area
    community2: Area
    grids: dict[str, Area]


@pytest.fixture
def small_city(db) -> SmallCity:
    city = AreaFactory(level=Level.CITY, code="320400", boundary=rect(*CITY_BOX))
    district = AreaFactory(
        level=Level.DISTRICT, code="320402", parent=city, boundary=rect(*CITY_BOX)
    )
    subdistrict = AreaFactory(
        level=Level.SUBDISTRICT,
        code="320402001",
        parent=district,
        boundary=rect(119.90, 31.70, 119.96, 31.74),
    )
    community = AreaFactory(
        level=Level.COMMUNITY, code="320402001001", parent=subdistrict, boundary=rect(*COMMUNITY_1)
    )
    community2 = AreaFactory(
        level=Level.COMMUNITY, code="320402001002", parent=subdistrict, boundary=rect(*COMMUNITY_2)
    )
    layout = {
        "320402001001001": (119.90, 31.72, 119.92, 31.74),
        "320402001001002": (119.92, 31.72, 119.94, 31.74),
        "320402001001003": (119.90, 31.70, 119.92, 31.72),
        "320402001001004": (119.92, 31.70, 119.94, 31.72),
    }
    grids = {
        code: AreaFactory(level=Level.GRID, code=code, parent=community, boundary=rect(*box))
        for code, box in layout.items()
    }
    grids["320402001002001"] = AreaFactory(
        level=Level.GRID,
        code="320402001002001",
        parent=community2,
        boundary=rect(119.94, 31.72, 119.96, 31.74),
    )
    return SmallCity(city, district, subdistrict, community, community2, grids)
