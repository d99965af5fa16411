"""A small working city for the case workflow: the ``small_city`` tree, two
departments, the standard categories (loaded by migration), and one person
per role, plus people of the same roles elsewhere to test scope.

    dispatcher      command centre of the subdistrict 320402001 (level 3)
    city_dispatcher command centre of the city (level 1)
    far_dispatcher  command centre of another subdistrict (320402002)
    handler         城管 CGJ (city jurisdiction)
    other_handler   市政 SZGS
    grid_worker     grid 320402001001001 (G1)
    other_worker    grid 320402001001004 (G4)
    supervisor      the district 320402
    far_supervisor  another district (320404)
    citizen         a citizen account
    admin           configuration
"""

from __future__ import annotations

import datetime as dt
import io
import time
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from PIL import Image

from cases import services
from cases.models import CalendarYear, Category, Source, Status
from grids.models import GridAssignment, Level
from organisation.models import Department, Role, RoleMembership
from tests.conftest import SmallCity
from tests.factories import AreaFactory, UserFactory, rect

G1 = "320402001001001"
G4 = "320402001001004"
IN_G1 = (119.91, 31.73)
IN_G4 = (119.93, 31.71)


def jpeg(name: str = "photo.jpg", size=(64, 48), color=(200, 80, 40)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


@dataclass
class World:
    city: SmallCity
    cgj: Department
    szgs: Department
    category: Category
    users: dict

    def __getattr__(self, name):
        try:
            return self.users[name]
        except KeyError:
            raise AttributeError(name) from None


def _member(user, role, **scope):
    RoleMembership.objects.create(user=user, role=role, **scope)
    return user


@pytest.fixture
def world(small_city, db) -> World:
    # Deadlines must not depend on whether next year's holidays are published yet.
    next_year = timezone.localdate().year + 1
    CalendarYear.objects.get_or_create(
        year=next_year, defaults={"source": CalendarYear.Source.MANUAL}
    )
    city = small_city.city
    other_sub = AreaFactory(
        level=Level.SUBDISTRICT,
        code="320402002",
        parent=small_city.district,
        boundary=rect(119.96, 31.70, 120.00, 31.74),
    )
    other_district = AreaFactory(
        level=Level.DISTRICT,
        code="320404",
        parent=city,
        boundary=rect(120.0, 31.6, 120.1, 31.7),
    )
    cgj = Department.objects.create(code="CGJ", name="市城市管理局", jurisdiction=city)
    szgs = Department.objects.create(code="SZGS", name="市政设施管理处", jurisdiction=city)
    category = Category.objects.get(code="BJ0101")  # water-supply manhole cover
    category.default_department = cgj
    category.save()

    u = {}
    u["dispatcher"] = _member(
        UserFactory(username="dispatcher"), Role.DISPATCHER, area=small_city.subdistrict
    )
    u["city_dispatcher"] = _member(
        UserFactory(username="city_dispatcher"), Role.DISPATCHER, area=city
    )
    u["far_dispatcher"] = _member(
        UserFactory(username="far_dispatcher"), Role.DISPATCHER, area=other_sub
    )
    u["handler"] = _member(UserFactory(username="handler"), Role.HANDLER, department=cgj)
    u["other_handler"] = _member(
        UserFactory(username="other_handler"), Role.HANDLER, department=szgs
    )
    u["supervisor"] = _member(
        UserFactory(username="supervisor"), Role.SUPERVISOR, area=small_city.district
    )
    u["far_supervisor"] = _member(
        UserFactory(username="far_supervisor"), Role.SUPERVISOR, area=other_district
    )
    u["grid_worker"] = _member(UserFactory(username="grid_worker"), Role.GRID_WORKER)
    u["other_worker"] = _member(UserFactory(username="other_worker"), Role.GRID_WORKER)
    today = timezone.localdate() - dt.timedelta(days=1)
    GridAssignment.objects.create(
        user=u["grid_worker"], grid=small_city.grids[G1], start_date=today
    )
    GridAssignment.objects.create(
        user=u["other_worker"], grid=small_city.grids[G4], start_date=today
    )
    u["citizen"] = _member(UserFactory(username="citizen"), Role.CITIZEN)
    u["admin"] = _member(UserFactory(username="admin"), Role.ADMIN)
    return World(small_city, cgj, szgs, category, u)


def colleague_in_g1(world: World, username: str = "colleague"):
    """A second grid worker assigned to G1 (since yesterday)."""
    colleague = _member(UserFactory(username=username), Role.GRID_WORKER)
    GridAssignment.objects.create(
        user=colleague,
        grid=world.city.grids[G1],
        start_date=timezone.localdate() - dt.timedelta(days=1),
    )
    return colleague


def fresh(user):
    """The same user without cached scope (as the next request would load it)."""
    user.__dict__.pop("_case_scope", None)
    return user


def report(world: World, *, point=IN_G1, **kwargs):
    kwargs.setdefault("reporter", world.grid_worker)
    kwargs.setdefault("source", Source.GRID_WORKER)
    kwargs.setdefault("description", "井盖缺失, 有行人跌落风险")
    kwargs.setdefault("category", world.category)
    return services.case_report(lng=point[0], lat=point[1], **kwargs)


# The actions that take a case from one status to the next on the main path.
PATH = [
    (Status.REGISTERED, lambda w, c: services.case_register(case=c, actor=w.dispatcher)),
    (Status.DISPATCHED, lambda w, c: services.case_dispatch(case=c, actor=w.dispatcher)),
    (Status.IN_PROGRESS, lambda w, c: services.case_acknowledge(case=c, actor=w.handler)),
    (
        Status.HANDLED,
        lambda w, c: services.case_report_back(
            case=c, actor=w.handler, note="已更换井盖", photos=[jpeg()]
        ),
    ),
    (
        Status.CLOSED,
        lambda w, c: services.case_inspect(case=c, actor=w.grid_worker, passed=True),
    ),
]


def case_in(world: World, status: str, **report_kwargs):
    """A case carried along the main path to ``status`` (or one step aside:
    returned, suspended, rejected; verifying, for a citizen's or hotline report)."""
    case = report(world, **report_kwargs)
    if status == Status.REPORTED:
        return case
    if status == Status.VERIFYING:
        return services.case_send_to_verify(case=case, actor=world.dispatcher)
    if status == Status.REJECTED:
        return services.case_reject(case=case, actor=world.dispatcher, reason="不属实")
    for target, step in PATH:
        if status == Status.RETURNED and target == Status.IN_PROGRESS:
            return services.case_return(case=case, actor=world.handler, reason="不属于本部门")
        if status == Status.SUSPENDED and target == Status.HANDLED:
            services.case_request_suspension(case=case, actor=world.handler, reason="等待材料")
            return services.case_approve_suspension(case=case, actor=world.dispatcher)
        case = step(world, case)
        if target == status:
            return case
    raise AssertionError(f"no path to {status}")


def wait_until_blocked_by_this_session(timeout: float = 10.0) -> None:
    """Return once another session waits on a lock this session holds (a row
    lock, or a unique-index entry not yet committed); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # pg_locks is live (no per-transaction snapshot); count only the
            # sessions blocked by this one, not those of other test runs.
            cursor.execute(
                "SELECT count(*) FROM pg_locks"
                " WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("no other session came to wait for this one's lock")
