"""The closed loop end to end, through the services, and the story its events tell."""

import pytest

from cases import services
from cases.models import AttachmentKind, Case, CaseEvent, Light, Stage, Status
from tests.cases.conftest import case_in, jpeg, report

pytestmark = pytest.mark.django_db


def test_the_main_path_from_report_to_closed(world):
    case = report(world, photos=[jpeg("before.jpg")])
    assert case.status == Status.REPORTED
    assert case.number.startswith(case.created_at.astimezone().strftime("%Y%m%d"))
    assert case.grid.code == "320402001001001"
    assert case.ancestor_ids == [
        world.city.city.pk,
        world.city.district.pk,
        world.city.subdistrict.pk,
        world.city.community.pk,
        case.grid_id,
    ]
    assert case.stage == Stage.REGISTER and case.light == Light.GREEN and case.due_at

    case = services.case_register(case=case, actor=world.dispatcher)
    assert case.routed_department == world.cgj and not case.unrouted
    case = services.case_dispatch(case=case, actor=world.dispatcher)
    assert case.department == world.cgj and case.stage == Stage.ACKNOWLEDGE
    case = services.case_acknowledge(case=case, actor=world.handler)
    assert case.stage == Stage.HANDLE
    case = services.case_report_back(
        case=case, actor=world.handler, note="已更换", photos=[jpeg("after.jpg")]
    )
    assert case.stage == Stage.INSPECT
    case = services.case_inspect(case=case, actor=world.grid_worker, passed=True)

    stored = Case.objects.get(pk=case.pk)
    assert stored.status == Status.CLOSED
    assert stored.closed_at is not None
    assert stored.stage == "" and stored.due_at is None and stored.light == ""
    events = list(CaseEvent.objects.filter(case=case).order_by("id"))
    assert [e.action for e in events] == [
        "reported", "registered", "dispatched", "acknowledged", "handled", "closed",
    ]  # fmt: skip
    assert [(e.from_status, e.to_status) for e in events] == [
        ("", "reported"),
        ("reported", "registered"),
        ("registered", "dispatched"),
        ("dispatched", "in_progress"),
        ("in_progress", "handled"),
        ("handled", "closed"),
    ]
    assert [e.actor for e in events] == [
        world.grid_worker, world.dispatcher, world.dispatcher,
        world.handler, world.handler, world.grid_worker,
    ]  # fmt: skip
    assert events[2].payload["department"] == "CGJ"
    kinds = sorted(stored.attachments.values_list("kind", flat=True))
    assert kinds == [AttachmentKind.HANDLING, AttachmentKind.REPORT]
    assert stored.version == 7  # created at 1, then six saves


@pytest.mark.parametrize(
    "status",
    [Status.REPORTED, Status.REJECTED, Status.RETURNED, Status.SUSPENDED, Status.CLOSED],
)
def test_case_in_reaches_each_status(world, status):
    assert Case.objects.get(pk=case_in(world, status).pk).status == status
