"""回访: the reporter of a closed tip rates the outcome by its tracking token,
within the reopening window; "not satisfied" with a reason asks the command
centre to reopen, which a dispatcher does or declines."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from cases import services
from cases.errors import CaseConflict, CaseNotFound
from cases.models import Case, CaseEvent, PendingRequest, Source, Status
from notifications.models import Notification
from tests.api.helpers import Stored, client_for, error, random_ip
from tests.cases.conftest import case_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed(world) -> Case:
    return case_in(world, Status.CLOSED, reporter=None, source=Source.CITIZEN)


def rate(token: str, **data):
    client = APIClient(REMOTE_ADDR=random_ip())
    return client.post(f"/api/v1/tips/{token}/rate/", data, format="json")


def stored(case) -> tuple[str, str, str]:
    """The stored case's status, pending request and rating."""
    row = Case.objects.get(pk=case.pk)
    return row.status, row.pending_request, row.satisfaction


def status_of(token: str) -> dict:
    return APIClient(REMOTE_ADDR=random_ip()).get(f"/api/v1/tips/{token}/").json()


def test_the_reporter_rates_a_closed_tip_by_its_token(world, closed):
    rating = status_of(closed.tracking_token)["rating"]
    assert rating["can_rate"] is True and rating["satisfaction"] == ""
    assert rating["rate_until"] is not None and rating["reopen_requested"] is False

    response = rate(closed.tracking_token, satisfaction="basically_satisfied", comment="还行")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["rating"] == {
        **body["rating"],
        "satisfaction": "basically_satisfied",
        "can_rate": False,
        "reopen_requested": False,
    }
    assert body["steps"][-1]["step"] == "rated"
    event = CaseEvent.objects.filter(case=closed).order_by("-id").first()
    assert (event.action, event.actor, event.actor_role) == ("rated", None, "reporter")
    assert event.payload == {"satisfaction": "basically_satisfied", "comment": "还行"}
    # Once only.
    error(rate(closed.tracking_token, satisfaction="satisfied"), 409, "conflict")


def test_rating_after_the_window_is_refused(world, closed, settings):
    settings.CASES_REOPEN_DAYS = 7
    Case.objects.filter(pk=closed.pk).update(closed_at=closed.closed_at - dt.timedelta(days=8))
    assert status_of(closed.tracking_token)["rating"]["can_rate"] is False

    before = Stored()
    body = error(rate(closed.tracking_token, satisfaction="satisfied"), 409, "conflict")
    assert "rating" in body["message"]
    before.assert_unchanged()


def test_an_open_tip_cannot_be_rated_yet(world):
    case = case_in(world, Status.HANDLED, reporter=None, source=Source.CITIZEN)
    assert status_of(case.tracking_token)["rating"]["can_rate"] is False
    error(rate(case.tracking_token, satisfaction="satisfied"), 409, "conflict")


def test_bad_input_and_unknown_tokens(world, closed):
    before = Stored()
    body = error(rate(closed.tracking_token, satisfaction="meh"), 400, "invalid")
    assert "satisfaction" in body["fields"]
    body = error(rate(closed.tracking_token, satisfaction="unsatisfied"), 400, "invalid")
    assert "comment" in body["fields"]
    error(rate("x" * 43, satisfaction="satisfied"), 404, "not_found")
    before.assert_unchanged()


def test_a_staff_report_has_no_token_holder_who_may_rate(world):
    case = case_in(world, Status.CLOSED)  # a grid worker's report
    assert case.tracking_token is None
    with pytest.raises(CaseNotFound):
        services.case_rate_by_token(token="y" * 43, satisfaction="satisfied")


def test_not_satisfied_asks_the_command_centre_to_reopen(world, closed):
    response = rate(closed.tracking_token, satisfaction="unsatisfied", comment="井盖还是松的")

    assert response.status_code == 200, response.content
    assert response.json()["rating"]["reopen_requested"] is True
    assert stored(closed) == (Status.CLOSED, PendingRequest.REOPEN, "unsatisfied")
    event = CaseEvent.objects.filter(case=closed).order_by("-id").first()
    assert event.action == "reopen_requested"
    assert event.payload == {"satisfaction": "unsatisfied", "comment": "井盖还是松的"}
    told = Notification.objects.filter(case=closed, event=event)
    assert {(n.kind, n.recipient.username) for n in told} == {("reopen_request", "dispatcher")}

    dispatcher = client_for(world.dispatcher)
    listed = dispatcher.get("/api/v1/cases/?reopen_requested=true").json()["results"]
    assert [row["id"] for row in listed] == [closed.pk]
    assert listed[0]["pending_request"] == "reopen"
    others = dispatcher.get("/api/v1/cases/?reopen_requested=false").json()["results"]
    assert closed.pk not in [row["id"] for row in others]
    assert (
        client_for(world.far_dispatcher)
        .get("/api/v1/cases/?reopen_requested=true")
        .json()["results"]
        == []
    )


def test_the_dispatcher_reopens_on_request(world, closed):
    rate(closed.tracking_token, satisfaction="unsatisfied", comment="井盖还是松的")
    response = client_for(world.dispatcher).post(
        f"/api/v1/cases/{closed.pk}/reopen/", {"reason": "回访不满意"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert stored(closed) == (Status.IN_PROGRESS, PendingRequest.NONE, "")
    assert status_of(closed.tracking_token)["steps"][-1]["step"] == "reopened"


def test_the_dispatcher_declines_a_reopen_request_saying_why(world, closed):
    rate(closed.tracking_token, satisfaction="unsatisfied", comment="井盖还是松的")
    dispatcher = client_for(world.dispatcher)
    url = f"/api/v1/cases/{closed.pk}/decline-reopen/"
    body = error(dispatcher.post(url, {}, format="json"), 400, "invalid")
    assert "reason" in body["fields"]
    error(
        client_for(world.grid_worker).post(url, {"reason": "不重办"}, format="json"),
        403,
        "permission_denied",
    )
    error(
        client_for(world.far_dispatcher).post(url, {"reason": "不重办"}, format="json"),
        404,
        "not_found",
    )

    response = dispatcher.post(url, {"reason": "已按标准修复"}, format="json")

    assert response.status_code == 200, response.content
    assert stored(closed) == (Status.CLOSED, PendingRequest.NONE, "unsatisfied")
    assert status_of(closed.tracking_token)["steps"][-1]["step"] == "reopen_declined"
    # Nothing left to decline.
    error(dispatcher.post(url, {"reason": "再次"}, format="json"), 409, "conflict")


def test_without_a_request_there_is_nothing_to_decline(world, closed):
    with pytest.raises(CaseConflict):
        services.case_decline_reopen(case=closed, actor=world.dispatcher, reason="不重办")


def test_a_reopen_request_made_late_in_the_window_can_still_be_granted(world, closed):
    rate(closed.tracking_token, satisfaction="unsatisfied", comment="井盖还是松的")
    Case.objects.filter(pk=closed.pk).update(closed_at=closed.closed_at - dt.timedelta(days=30))
    url = f"/api/v1/cases/{closed.pk}/reopen/"
    outside = client_for(world.far_dispatcher).post(url, {"reason": "回访不满意"}, format="json")
    error(outside, 404, "not_found")

    response = client_for(world.dispatcher).post(url, {"reason": "回访不满意"}, format="json")

    assert response.status_code == 200, response.content
    assert stored(closed) == (Status.IN_PROGRESS, PendingRequest.NONE, "")


def test_without_a_request_a_case_is_not_reopened_after_the_window(world, closed):
    Case.objects.filter(pk=closed.pk).update(closed_at=closed.closed_at - dt.timedelta(days=30))
    url = f"/api/v1/cases/{closed.pk}/reopen/"
    body = error(
        client_for(world.dispatcher).post(url, {"reason": "再办"}, format="json"), 409, "conflict"
    )
    assert "reopening" in body["message"]
    assert stored(closed)[0] == Status.CLOSED


def test_a_pending_reopen_request_is_due_an_answer_and_goes_red_when_late(world, closed):
    from cases.deadlines import limit_for
    from cases.models import CaseDirective, Light, OverduePolicy, Stage
    from cases.sweep import sla_sweep

    OverduePolicy.objects.update_or_create(stage=Stage.REGISTER, defaults={"on_red": "supervise"})
    rate(closed.tracking_token, satisfaction="unsatisfied", comment="井盖还是松的")
    waiting = Case.objects.get(pk=closed.pk)
    # Answered within the register stage's limit, as a new report would be.
    limit = limit_for(
        category_id=waiting.category_id, urgency=waiting.urgency, stage=Stage.REGISTER
    )
    assert waiting.stage == Stage.REGISTER and waiting.stage_unit == limit.unit
    assert waiting.light == Light.GREEN and waiting.due_at is not None

    sla_sweep(now=waiting.due_at + dt.timedelta(minutes=1))

    late = Case.objects.get(pk=closed.pk)
    assert late.light == Light.RED and late.status == Status.CLOSED
    # No supervision order to a department for a case the command centre must answer.
    assert not late.is_supervised and not CaseDirective.objects.filter(case=closed).exists()
    red = CaseEvent.objects.filter(case=closed, action="sla_red").get()
    assert red.payload["stage"] == Stage.REGISTER
    listed = client_for(world.dispatcher).get("/api/v1/cases/?overdue=true").json()["results"]
    assert closed.pk in [row["id"] for row in listed]

    services.case_decline_reopen(case=closed.pk, actor=world.dispatcher, reason="已按标准修复")
    answered = Case.objects.get(pk=closed.pk)
    assert (answered.stage, answered.light, answered.due_at) == ("", "", None)


def test_a_satisfied_rating_starts_no_deadline(world, closed):
    rate(closed.tracking_token, satisfaction="satisfied")
    rated = Case.objects.get(pk=closed.pk)
    assert (rated.stage, rated.light, rated.due_at) == ("", "", None)
