"""Verification on site (核实): a dispatcher sends a tip to its grid's
workers, one of them passes or fails it, and the report is back with the
command centre marked with the outcome. Its deadline, the sweep, who is told,
the live audience, the task lists and the API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cases import services, sweep
from cases.audience import area_group
from cases.errors import ActionForbidden, CaseConflict, CaseInputError, CaseNotFound
from cases.models import Case, CaseEvent, Light, SlaRule, Source, Stage, Status, Verification
from notifications.models import Notification
from tests.api.helpers import Stored, client_for, error
from tests.cases.conftest import G1, G4, IN_G4, case_in, colleague_in_g1, jpeg, report

pytestmark = pytest.mark.django_db


def tip(world, **kwargs):
    kwargs.setdefault("reporter", None)
    return report(world, source=Source.CITIZEN, **kwargs)


def sent(world, **kwargs) -> Case:
    return services.case_send_to_verify(case=tip(world, **kwargs), actor=world.dispatcher)


def outcome(case) -> tuple[str, str, str]:
    return case.status, case.verification, case.stage


def last_event(case) -> CaseEvent:
    return CaseEvent.objects.filter(case=case).order_by("-id").first()


# --- Sending a tip to be verified ------------------------------------------------------------


def test_a_tip_sent_to_verify_waits_for_its_grid_with_the_default_deadline(world, settings):
    case = sent(world)

    assert case.status == Status.VERIFYING
    assert (case.stage, case.stage_unit, case.light) == (Stage.VERIFY, "working_hours", "green")
    assert case.stage_limit == 60  # CASES_DEFAULT_SLA: 1 working hour
    assert settings.CASES_DEFAULT_SLA["verify"] == (1, "working_hours")
    assert case.due_at is not None and case.due_at > case.stage_started_at
    event = last_event(case)
    assert (event.action, event.actor, event.from_status) == (
        "verification_requested",
        world.dispatcher,
        Status.REPORTED,
    )
    assert area_group(world.city.grids[G1].pk) in event.audience  # pushed to the grid live


def test_the_category_rule_sets_the_verification_deadline(world):
    SlaRule.objects.create(
        category=world.category, stage="verify", amount=30, unit="natural_minutes"
    )
    case = sent(world)
    assert (case.stage_clock, case.stage_limit) == ("natural", 30)
    assert case.due_at == case.stage_started_at + dt.timedelta(minutes=30)


@pytest.mark.parametrize("source", [Source.GRID_WORKER, Source.SENSOR])
def test_only_tips_and_hotline_reports_are_verified(world, source):
    reporter = world.grid_worker if source == Source.GRID_WORKER else world.dispatcher
    case = report(world, source=source, reporter=reporter)
    with pytest.raises(CaseConflict) as exc:
        services.case_send_to_verify(case=case, actor=world.dispatcher)
    assert "citizen's tip or a hotline report" in str(exc.value)
    assert Case.objects.get(pk=case.pk).status == Status.REPORTED


def test_a_hotline_report_is_verified_too(world):
    case = report(world, source=Source.HOTLINE, reporter=world.dispatcher)
    case = services.case_send_to_verify(case=case, actor=world.dispatcher)
    assert case.status == Status.VERIFYING


def test_the_grid_worker_is_told_of_the_new_task_and_no_one_else(world):
    case = sent(world)
    told = Notification.objects.filter(case=case, event__action="verification_requested")
    assert {(n.kind, n.channel, n.recipient.username) for n in told} == {
        ("verify", "inbox", "grid_worker")
    }


def test_with_the_setting_on_a_new_tip_goes_to_verification_by_itself(world, settings):
    settings.CASES_VERIFY_TIPS = True
    case = tip(world)
    assert case.status == Status.VERIFYING and case.stage == Stage.VERIFY
    events = list(case.events.order_by("id").values_list("action", "actor", "to_status"))
    assert events == [
        ("reported", None, Status.REPORTED),
        ("verification_requested", None, Status.VERIFYING),
    ]
    assert last_event(case).payload["automatic"] is True
    assert Notification.objects.filter(case=case, recipient=world.grid_worker).exists()
    # A grid worker's own report is not a tip: it is not verified.
    own = report(world)
    assert own.status == Status.REPORTED


def test_with_the_setting_off_a_new_tip_waits_for_registration(world, settings):
    settings.CASES_VERIFY_TIPS = False
    assert tip(world).status == Status.REPORTED


# --- Verifying on site --------------------------------------------------------------------------


def test_a_pass_needs_a_photo_and_marks_the_report_verified(world):
    case = sent(world)
    with pytest.raises(CaseInputError) as exc:
        services.case_verify(case=case, actor=world.grid_worker, passed=True)
    assert exc.value.field == "photos"

    case = services.case_verify(
        case=case, actor=world.grid_worker, passed=True, note="属实", photos=[jpeg()]
    )
    assert outcome(case) == (Status.REPORTED, Verification.PASSED, Stage.REGISTER)
    event = last_event(case)
    assert (event.action, event.actor_role, event.payload) == (
        "verified",
        "grid_worker",
        {"note": "属实"},
    )
    assert [a.kind for a in event.attachments.all()] == ["verify"]
    # The dispatcher registers it next.
    assert services.case_register(case=case, actor=world.dispatcher).status == Status.REGISTERED


def test_a_fail_needs_a_reason_and_the_dispatcher_voids_it(world):
    case = sent(world)
    with pytest.raises(CaseInputError) as exc:
        services.case_verify(case=case, actor=world.grid_worker, passed=False)
    assert exc.value.field == "note"

    case = services.case_verify(
        case=case, actor=world.grid_worker, passed=False, note="现场无此问题"
    )
    assert outcome(case) == (Status.REPORTED, Verification.FAILED, Stage.REGISTER)
    assert last_event(case).action == "verification_failed"
    case = services.case_reject(case=case, actor=world.dispatcher, reason="核实不属实")
    assert case.status == Status.REJECTED


def test_a_worker_of_another_grid_does_not_see_the_task(world):
    case = sent(world)
    with pytest.raises(CaseNotFound):
        services.case_verify(case=case, actor=world.other_worker, passed=False, note="不属实")


def test_a_dispatcher_may_send_but_not_verify(world):
    case = sent(world)
    with pytest.raises(ActionForbidden):
        services.case_verify(case=case, actor=world.dispatcher, passed=False, note="不属实")
    assert Case.objects.get(pk=case.pk).status == Status.VERIFYING


def test_a_case_in_another_grid_goes_to_that_grids_worker(world):
    case = sent(world, point=IN_G4)
    assert case.grid == world.city.grids[G4]
    with pytest.raises(CaseNotFound):
        services.case_verify(case=case, actor=world.grid_worker, passed=False, note="x")
    services.case_verify(case=case, actor=world.other_worker, passed=False, note="现场无此问题")


def test_verifying_twice_is_a_conflict(world):
    case = sent(world)
    services.case_verify(case=case, actor=world.grid_worker, passed=False, note="不属实")
    with pytest.raises(CaseConflict) as exc:
        services.case_verify(case=case, actor=world.grid_worker, passed=True, photos=[jpeg()])
    assert exc.value.status == 409


# --- Deadline and sweep ---------------------------------------------------------------------------


def test_an_overdue_verification_turns_red_and_its_holders_hear(world):
    case = sent(world)
    now = timezone.now()
    Case.objects.filter(pk=case.pk).update(
        yellow_at=now - dt.timedelta(hours=1), due_at=now - dt.timedelta(minutes=1)
    )
    sweep.sla_sweep(now=now)
    stored = Case.objects.get(pk=case.pk)
    assert (stored.light, stored.overdue_count, stored.status) == (Light.RED, 1, Status.VERIFYING)
    red = CaseEvent.objects.get(case=case, action="sla_red")
    assert red.payload["stage"] == Stage.VERIFY
    # The digest reaches the grid worker, who holds the case while it is
    # verified, and the command centre that sent it and may take it back.
    digests = Notification.objects.filter(event__isnull=True, kind="red")
    told = set(digests.values_list("recipient", flat=True))
    assert {world.grid_worker.pk, world.dispatcher.pk} <= told
    assert world.far_dispatcher.pk not in told and world.handler.pk not in told


def test_an_overdue_verification_climbs_a_command_level_as_a_report_would(world):
    from cases.models import OverduePolicy

    OverduePolicy.objects.update_or_create(stage=Stage.VERIFY, defaults={"on_red": "escalate"})
    case = sent(world)
    now = timezone.now()
    Case.objects.filter(pk=case.pk).update(
        yellow_at=now - dt.timedelta(hours=1), due_at=now - dt.timedelta(minutes=1)
    )
    result = sweep.sla_sweep(now=now)
    stored = Case.objects.get(pk=case.pk)
    assert result.escalated == 1 and stored.command_level == case.command_level - 1
    assert (stored.status, stored.stage, stored.light) == (Status.VERIFYING, Stage.VERIFY, "green")
    assert CaseEvent.objects.filter(case=case, action="escalated").exists()


# --- The command centre takes a tip back, voids or merges it -----------------------------------


def test_a_dispatcher_recalls_a_tip_from_verification_saying_why(world):
    case = sent(world)
    with pytest.raises(CaseInputError):
        services.case_recall_verification(case=case, actor=world.dispatcher, reason="")

    recalled = services.case_recall_verification(
        case=case, actor=world.dispatcher, reason="网格员休假"
    )

    assert outcome(recalled) == (Status.REPORTED, Verification.NONE, Stage.REGISTER)
    event = last_event(case)
    assert (event.action, event.actor, event.from_status) == (
        "verification_recalled",
        world.dispatcher,
        Status.VERIFYING,
    )
    assert event.payload == {"reason": "网格员休假"}
    # Not twice: it is no longer out for verification.
    with pytest.raises(CaseConflict):
        services.case_recall_verification(case=case, actor=world.dispatcher, reason="again")


@pytest.mark.parametrize("who", ["grid_worker", "handler", "supervisor"])
def test_only_the_command_centre_recalls_a_verification(world, who):
    case = sent(world)
    with pytest.raises((ActionForbidden, CaseNotFound)):
        services.case_recall_verification(case=case, actor=world.users[who], reason="不去了")
    with pytest.raises(CaseNotFound):
        services.case_recall_verification(case=case, actor=world.far_dispatcher, reason="x")
    assert Case.objects.get(pk=case.pk).status == Status.VERIFYING


def test_a_tip_being_verified_may_be_voided_or_merged_by_the_command_centre(world):
    voided = services.case_reject(case=sent(world), actor=world.dispatcher, reason="恶意举报")
    assert voided.status == Status.REJECTED
    original = case_in(world, Status.REGISTERED)
    merged = services.case_merge(case=sent(world), actor=world.dispatcher, original=original)
    assert (merged.status, merged.duplicate_of_id) == (Status.REJECTED, original.pk)
    waiting = sent(world)
    with pytest.raises(ActionForbidden):
        services.case_reject(case=waiting, actor=world.grid_worker, reason="不是问题")
    with pytest.raises(ActionForbidden):
        services.case_merge(case=waiting, actor=world.grid_worker, original=original)
    assert Case.objects.get(pk=waiting.pk).status == Status.VERIFYING


def test_the_api_recalls_and_refuses_the_wrong_people(world):
    case = sent(world)
    url = f"/api/v1/cases/{case.pk}/recall-verification/"
    error(client_for(world.dispatcher).post(url, {}, format="json"), 400, "invalid")
    refused = client_for(world.grid_worker).post(url, {"reason": "不去"}, format="json")
    error(refused, 403, "permission_denied")
    hidden = client_for(world.far_dispatcher).post(url, {"reason": "不去"}, format="json")
    error(hidden, 404, "not_found")
    response = client_for(world.dispatcher).post(url, {"reason": "网格员休假"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == Status.REPORTED


# --- A grid with no worker ---------------------------------------------------------------------


def no_worker_in_g1():
    from grids.models import GridAssignment

    GridAssignment.objects.filter(grid__code=G1).delete()


def test_a_tip_is_not_sent_to_a_grid_with_no_worker(world):
    case = tip(world)
    no_worker_in_g1()
    url = f"/api/v1/cases/{case.pk}/send-to-verify/"
    body = error(client_for(world.dispatcher).post(url, {}, format="json"), 409, "conflict")
    assert "No grid worker is assigned to this grid" in body["message"]
    stored = Case.objects.get(pk=case.pk)
    assert (stored.status, stored.stage) == (Status.REPORTED, Stage.REGISTER)
    # Another grid, with its worker, still takes tips.
    assert sent(world, point=IN_G4).status == Status.VERIFYING


def test_with_the_setting_on_a_tip_in_a_grid_with_no_worker_waits_for_registration(world, settings):
    settings.CASES_VERIFY_TIPS = True
    no_worker_in_g1()
    case = tip(world)
    assert (case.status, case.stage) == (Status.REPORTED, Stage.REGISTER)
    assert not CaseEvent.objects.filter(case=case, action="verification_requested").exists()
    assert tip(world, point=IN_G4).status == Status.VERIFYING


# --- The API ---------------------------------------------------------------------------------


def test_the_api_sends_and_verifies_and_lists_the_task(world):
    case = tip(world)
    response = client_for(world.dispatcher).post(
        f"/api/v1/cases/{case.pk}/send-to-verify/", {"note": "请核实"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == Status.VERIFYING

    worker = client_for(world.grid_worker)
    listed = worker.get("/api/v1/cases/?task=verify").json()["results"]
    assert [(row["id"], row["stage"]) for row in listed] == [(case.pk, "verify")]
    assert listed[0]["due_at"] is not None
    assert worker.get("/api/v1/cases/?task=inspect").json()["results"] == []
    assert client_for(world.other_worker).get("/api/v1/cases/?task=verify").json()["results"] == []
    detail = worker.get(f"/api/v1/cases/{case.pk}/").json()
    assert {"verify_pass", "verify_fail"} <= set(detail["actions"])

    response = worker.post(
        f"/api/v1/cases/{case.pk}/verify-pass/",
        {"note": "属实", "photos": [jpeg()]},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    body = worker.get(f"/api/v1/cases/{case.pk}/").json()
    assert (body["status"], body["verification"]) == (Status.REPORTED, "passed")
    assert worker.get("/api/v1/cases/?task=verify").json()["results"] == []


def test_the_inspection_task_list_holds_handled_cases_of_my_grids(world):
    handled = case_in(world, Status.HANDLED)
    case_in(world, Status.HANDLED, point=IN_G4, reporter=world.other_worker)
    rows = client_for(world.grid_worker).get("/api/v1/cases/?task=inspect").json()["results"]
    assert [row["id"] for row in rows] == [handled.pk]


def test_the_api_refuses_bad_input_and_the_wrong_people(world):
    case = sent(world)
    worker = client_for(world.grid_worker)
    other = tip(world)
    before = Stored()
    body = error(
        worker.post(f"/api/v1/cases/{case.pk}/verify-fail/", {}, format="json"), 400, "invalid"
    )
    assert "note" in body["fields"]
    body = error(
        worker.post(f"/api/v1/cases/{case.pk}/verify-pass/", {"note": "x"}, format="json"),
        400,
        "photo_required",
    )
    error(
        client_for(world.dispatcher).post(
            f"/api/v1/cases/{case.pk}/verify-fail/", {"note": "不属实"}, format="json"
        ),
        403,
        "permission_denied",
    )
    error(
        client_for(world.other_worker).post(
            f"/api/v1/cases/{case.pk}/verify-fail/", {"note": "不属实"}, format="json"
        ),
        404,
        "not_found",
    )
    error(
        client_for(world.grid_worker).post(
            f"/api/v1/cases/{other.pk}/send-to-verify/", {}, format="json"
        ),
        403,
        "permission_denied",
    )
    error(client_for(world.dispatcher).get("/api/v1/cases/?task=nothing"), 400, "invalid")
    before.assert_unchanged()
    worker.post(f"/api/v1/cases/{case.pk}/verify-fail/", {"note": "不属实"}, format="json")
    error(
        worker.post(f"/api/v1/cases/{case.pk}/verify-fail/", {"note": "再次"}, format="json"),
        409,
        "conflict",
    )


def test_open311_shows_a_case_being_verified_as_open(world, settings):
    from cases.open311.representations import service_notice

    settings.OPEN311_PUBLICATION = {**settings.OPEN311_PUBLICATION, "statuses": ["verifying"]}
    case = sent(world)
    response = client_for(world.dispatcher).get(f"/open311/v2/requests/{case.number}.json")
    assert response.status_code == 200, response.content
    (row,) = response.json()
    assert row["status"] == "open"
    assert "verification on site" in service_notice(case)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_verifying_at_once_one_wins_the_other_gets_a_conflict(world):
    from tests.cases.test_concurrency import race, winners_and_losers

    colleague = colleague_in_g1(world)
    case = sent(world)

    outcomes = race(
        lambda: services.case_verify(case=case.pk, actor=world.grid_worker, passed=False, note="A"),
        lambda: services.case_verify(
            case=case.pk, actor=colleague, passed=True, photos=[jpeg()], note="B"
        ),
    )

    wins, losses = winners_and_losers(outcomes)
    assert len(wins) == 1 and len(losses) == 1, outcomes
    (conflict,) = losses
    assert isinstance(conflict, CaseConflict) and conflict.status == 409, repr(conflict)
    assert (
        CaseEvent.objects.filter(case=case, action__in=["verified", "verification_failed"]).count()
        == 1
    )
