"""REST API v1 for cases: scoped lists, detail with history, create, actions,
and one error format for every refusal."""

import pytest
from rest_framework.test import APIClient

from cases import services
from cases.models import Case, CaseAttachment, CaseEvent, Status
from tests.api.helpers import client_for, error
from tests.cases.conftest import IN_G1, case_in, fresh, jpeg

pytestmark = pytest.mark.django_db


def test_the_list_is_scoped_and_filtered(world):
    mine = case_in(world, Status.DISPATCHED)
    other = case_in(world, Status.REGISTERED)
    handler = client_for(world.handler)
    ids = [c["id"] for c in handler.get("/api/v1/cases/").json()["results"]]
    assert ids == [mine.pk]
    dispatcher = client_for(world.dispatcher)
    listed = dispatcher.get("/api/v1/cases/?status=registered").json()["results"]
    assert [c["id"] for c in listed] == [other.pk]
    assert listed[0]["number"] == other.number and listed[0]["light"] == "green"
    both = dispatcher.get("/api/v1/cases/?ordering=created_at").json()["results"]
    assert [c["id"] for c in both] == [mine.pk, other.pk]
    box = f"{IN_G1[0] - 0.001},{IN_G1[1] - 0.001},{IN_G1[0] + 0.001},{IN_G1[1] + 0.001}"
    assert len(dispatcher.get(f"/api/v1/cases/?bbox={box}").json()["results"]) == 2
    assert dispatcher.get("/api/v1/cases/?bbox=0,0,1,1").json()["results"] == []
    area = world.city.community.pk
    assert len(dispatcher.get(f"/api/v1/cases/?area={area}").json()["results"]) == 2


def test_the_list_reads_each_page_in_one_query_whatever_its_length(
    world, django_assert_num_queries
):
    """Rows load only the columns they show (only()); a column they use but
    did not load would cost a query per row."""
    from rest_framework.authtoken.models import Token

    from cases.api.serializers import CaseListSerializer

    token = Token.objects.create(user=world.dispatcher)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    for count in (1, 6):
        while Case.objects.count() < count:
            case_in(world, Status.DISPATCHED)
        # The token with its user, the user's scope, the page.
        with django_assert_num_queries(3):
            rows = client.get("/api/v1/cases/").json()["results"]
        assert len(rows) == count
        assert set(rows[0]) == set(CaseListSerializer.Meta.fields)
        assert rows[0]["department"]["code"] and rows[0]["category"]["code"] == "BJ0101"


@pytest.mark.parametrize("ordering", ["-created_at", "created_at"])
def test_the_list_pages_forward_and_back_through_every_case_once(world, ordering):
    for _ in range(7):
        case_in(world, Status.DISPATCHED)
    client = client_for(world.dispatcher)
    page = client.get(f"/api/v1/cases/?page_size=3&ordering={ordering}").json()
    pages = [[row["id"] for row in page["results"]]]
    while page["next"]:
        page = client.get(page["next"]).json()
        pages.append([row["id"] for row in page["results"]])
    expected = list(
        Case.objects.order_by(ordering, "-id" if ordering.startswith("-") else "id").values_list(
            "pk", flat=True
        )
    )
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [pk for p in pages for pk in p] == expected
    back = client.get(page["previous"]).json()
    assert [row["id"] for row in back["results"]] == pages[1]


def test_list_rows_are_what_the_list_serializer_writes(world):
    """A page is read as values and written by CaseListSerializer.represent;
    it must equal the serializer's output for the same cases, in each
    language, for every kind of row (no category, no department, each light,
    a pending request, supervised, closed)."""
    import datetime as dt

    from django.utils import timezone, translation

    from cases import services
    from cases.api.serializers import CaseListSerializer
    from cases.models import Light
    from cases.selectors import with_view

    case_in(world, Status.REPORTED, category=None)
    supervised = case_in(world, Status.IN_PROGRESS)
    services.case_issue_directive(
        case=supervised,
        actor=world.supervisor,
        kind="supervision",
        message="加快处置",
        due_at=timezone.now() + dt.timedelta(days=1),
    )
    case_in(world, Status.SUSPENDED)
    case_in(world, Status.CLOSED)
    late = case_in(world, Status.DISPATCHED)
    Case.objects.filter(pk=late.pk).update(yellow_at=timezone.now() - dt.timedelta(hours=1))
    pending = case_in(world, Status.IN_PROGRESS)
    services.case_request_extension(case=pending, actor=world.handler, amount=2, reason="材料未到")
    tip = case_in(world, Status.VERIFYING, source="citizen", reporter=None)
    services.case_verify(case=tip, actor=world.grid_worker, passed=False, note="现场无此问题")
    queryset = Case.objects.select_related("category", "department", "grid").order_by("id")
    own = case_in(world, Status.IN_PROGRESS, reporter=world.citizen, source="citizen")
    citizens = with_view(queryset.filter(pk=own.pk), world.citizen)
    for language in ("en", "zh-hans"):
        with translation.override(language):
            written = CaseListSerializer.represent(
                CaseListSerializer.rows(queryset, world.users["admin"])
            )
            assert written == CaseListSerializer(list(queryset), many=True).data
            public = CaseListSerializer.represent(CaseListSerializer.rows(citizens, world.citizen))
            assert public == CaseListSerializer(list(citizens), many=True).data
            assert public[0]["in_full"] is False and public[0]["stage"] is None
    lights = {row["light"] for row in written}
    assert {"", Light.GREEN, Light.YELLOW} <= lights
    assert any(row["category"] is None for row in written)
    assert any(row["department"] is None for row in written)
    assert any(row["closed_at"] for row in written) and any(row["is_supervised"] for row in written)
    assert any(row["pending_request"] for row in written)
    assert any(row["verification"] == "failed" for row in written)


@pytest.mark.parametrize(
    "query",
    ["status=lost", "bbox=1,2,3", "bbox=5,5,1,1", "created_after=yesterday", "area=x",
     "ordering=number", "overdue=maybe", "supervised=2", "directive_overdue=later"],
)  # fmt: skip
def test_bad_filters_are_named(world, query):
    body = error(client_for(world.dispatcher).get(f"/api/v1/cases/?{query}"), 400, "invalid")
    assert query.split("=")[0] in body["fields"]


def test_detail_shows_history_actions_and_masked_contact(world):
    case = case_in(world, Status.IN_PROGRESS, reporter_phone="13912345678")
    detail = client_for(world.handler).get(f"/api/v1/cases/{case.pk}/").json()
    assert [e["action"] for e in detail["events"]] == [
        "reported", "registered", "dispatched", "acknowledged",
    ]  # fmt: skip
    assert "report_back" in detail["actions"] and "register" not in detail["actions"]
    assert detail["contact"]["phone"] == "13912345678"
    supervisor = client_for(world.supervisor).get(f"/api/v1/cases/{case.pk}/").json()
    assert supervisor["contact"]["phone"] == "139****5678"
    assert supervisor["actions"] == ["remind", "supervise", "comment"]


def test_a_case_out_of_scope_does_not_exist(world):
    case = case_in(world, Status.REGISTERED)
    client = client_for(world.other_handler)
    error(client.get(f"/api/v1/cases/{case.pk}/"), 404, "not_found")
    error(client.post(f"/api/v1/cases/{case.pk}/dispatch/", {}, format="json"), 404, "not_found")
    error(client.get("/api/v1/cases/999999/"), 404, "not_found")


def test_a_grid_worker_files_a_case_with_a_photo(world):
    client = client_for(world.grid_worker)
    response = client.post(
        "/api/v1/cases/",
        {
            "category": "BJ0101",
            "description": "井盖缺失",
            "lng": IN_G1[0],
            "lat": IN_G1[1],
            "photos": [jpeg("a.jpg"), jpeg("b.jpg")],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "reported" and body["grid"] == "320402001001001"
    assert len(body["photos"]) == 2 and body["photos"][0]["kind"] == "report"


def test_a_case_filed_as_json(world):
    response = client_for(world.grid_worker).post(
        "/api/v1/cases/",
        {"category": "BJ0101", "description": "x", "lng": IN_G1[0], "lat": IN_G1[1]},
        format="json",
    )
    assert response.status_code == 201
    assert Case.objects.get().category.code == "BJ0101"


@pytest.mark.parametrize(
    ("who", "extra"),
    [
        ("grid_worker", {}),
        ("grid_worker", {"photos": [jpeg("a.jpg")], "address": "河滨路 1 号"}),
        ("grid_worker", {"self_handled": "true", "handling_photos": [jpeg("b.jpg")]}),
        ("dispatcher", {"source": "hotline", "reporter_phone": "13912345678"}),
    ],
)
def test_the_created_body_is_the_case_as_its_detail_shows_it(world, who, extra):
    """The 201 body is built from the case the service just filed; it must be
    what reading the case back gives."""
    client = client_for(world.users[who])
    data = {"category": "BJ0101", "description": "井盖缺失", "lng": IN_G1[0], "lat": IN_G1[1]}
    response = client.post("/api/v1/cases/", {**data, **extra}, format="multipart")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created == client.get(f"/api/v1/cases/{created['id']}/").json()
    assert created["grid"] == "320402001001001" and created["events"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"lng": 119.95, "lat": 31.71}, "location"),  # in the gap: outside every grid
        ({"lng": 500}, "lng"),
        ({"lat": "north"}, "lat"),
        ({"category": "XX9999"}, "category"),
        ({"description": ""}, "description"),
        ({"description": "x" * 4001}, "description"),
        ({"crs": "bd09"}, "crs"),
        ({"reporter_email": "not-an-email"}, "reporter_email"),
    ],
)
def test_bad_case_input_is_named_and_nothing_is_stored(world, payload, field):
    data = {"category": "BJ0101", "description": "x", "lng": IN_G1[0], "lat": IN_G1[1]}
    data.update(payload)
    response = client_for(world.grid_worker).post("/api/v1/cases/", data, format="json")
    body = error(response, 400, response.json()["error"]["code"])
    assert field in body["fields"]
    assert not Case.objects.exists()


def test_a_non_image_photo_is_refused(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client_for(world.grid_worker).post(
        "/api/v1/cases/",
        {"description": "x", "lng": IN_G1[0], "lat": IN_G1[1],
         "photos": [SimpleUploadedFile("a.jpg", b"%PDF-1.4")]},
        format="multipart",
    )  # fmt: skip
    body = error(response, 400, "photo_invalid")
    assert "photos" in body["fields"] and not Case.objects.exists()


def test_malformed_json_is_a_clear_400(world):
    response = client_for(world.grid_worker).post(
        "/api/v1/cases/", "{not json", content_type="application/json"
    )
    error(response, 400, "malformed")


def test_actions_through_the_api(world):
    case = case_in(world, Status.REPORTED)
    dispatcher = client_for(world.dispatcher)
    url = f"/api/v1/cases/{case.pk}"
    assert dispatcher.get(f"{url}/actions/").json()["actions"] == [
        "register", "reject", "merge", "remind", "add_cohandler", "comment",
    ]  # fmt: skip
    body = dispatcher.post(f"{url}/register/", {"note": "ok"}, format="json").json()
    assert body["status"] == "registered"
    body = dispatcher.post(f"{url}/dispatch/", {"department": "SZGS"}, format="json").json()
    assert body["status"] == "dispatched" and body["department"]["code"] == "SZGS"
    again = dispatcher.post(f"{url}/dispatch/", {}, format="json")
    assert "dispatched now" in error(again, 409, "conflict")["message"]
    handler = client_for(world.other_handler)
    body = handler.post(f"{url}/acknowledge/", {}, format="json").json()
    assert body["status"] == "in_progress"
    response = handler.post(
        f"{url}/report-back/", {"note": "已修复", "photos": [jpeg()]}, format="multipart"
    )
    assert response.json()["status"] == "handled"
    assert CaseEvent.objects.filter(case=case).count() == 5


def test_refusals_in_the_error_format(world):
    case = case_in(world, Status.DISPATCHED)
    url = f"/api/v1/cases/{case.pk}"
    supervisor = client_for(world.supervisor)
    error(supervisor.post(f"{url}/acknowledge/", {}, format="json"), 403, "permission_denied")
    handler = client_for(world.handler)
    body = error(handler.post(f"{url}/return/", {}, format="json"), 400, "invalid")
    assert "reason" in body["fields"]
    stale = handler.post(f"{url}/acknowledge/", {"expected_version": 1}, format="json")
    assert "changed since you saw it" in error(stale, 409, "conflict")["message"]
    body = error(
        client_for(world.dispatcher).post(
            f"{url}/dispatch/", {"department": "NOPE"}, format="json"
        ),
        400,
        "invalid",
    )
    assert "department" in body["fields"]
    assert Case.objects.get(pk=case.pk).version == case.version


def test_anonymous_requests_are_refused(world, client):
    response = client.get("/api/v1/cases/")
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "not_authenticated"


def test_reference_lists_and_schema(world):
    client = client_for(world.grid_worker)
    categories = client.get("/api/v1/categories/").json()
    assert len(categories) == 128 and categories[0]["code"] == "BJ0101"
    assert {d["code"] for d in client.get("/api/v1/departments/").json()} == {"CGJ", "SZGS"}
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200 and b"/api/v1/cases/{id}/report-back/" in schema.content


def test_a_new_report_offers_its_duplicates_until_it_is_dispatched(world):
    original = case_in(world, Status.DISPATCHED)
    tip = case_in(world, Status.REPORTED)
    dispatcher = client_for(world.dispatcher)
    detail = dispatcher.get(f"/api/v1/cases/{tip.pk}/").json()
    assert [c["id"] for c in detail["duplicate_candidates"]] == [original.pk]
    # The reporter may not merge, so is offered none.
    reporter_view = client_for(world.grid_worker).get(f"/api/v1/cases/{tip.pk}/").json()
    assert "merge" not in reporter_view["actions"]
    assert reporter_view["duplicate_candidates"] == []
    merged = dispatcher.post(
        f"/api/v1/cases/{tip.pk}/merge/", {"original": original.pk}, format="json"
    ).json()
    assert merged["status"] == "rejected" and merged["duplicate_of"] == original.number
    assert merged["duplicate_candidates"] == []


# --- What a reporter sees, and what an action answers ---------------------------------

INTERNAL_NOTE = "INTERNAL-note-5c1e: 业主不配合"


def _citizen_case(world):
    """A citizen account's tip, now with the department, which wrote an
    internal note with a photo."""
    for user in world.users.values():
        user.display_name = f"Staff {user.username.title()} Person"
        user.save(update_fields=["display_name"])
    case = case_in(
        world, Status.IN_PROGRESS, reporter=world.citizen, source="citizen", photos=[jpeg()]
    )
    services.case_comment(
        case=case.pk, actor=world.handler, text=INTERNAL_NOTE, photos=[jpeg("inside.jpg")]
    )
    return Case.objects.get(pk=case.pk)


def test_a_citizen_sees_the_public_view_of_their_own_case(world):
    case = _citizen_case(world)

    response = client_for(world.citizen).get(f"/api/v1/cases/{case.pk}/")

    assert response.status_code == 200, response.content
    body = response.json()
    # The very view the tip-status page shows, by the tracking token.
    assert body == APIClient().get(f"/api/v1/tips/{case.tracking_token}/").json()
    assert body["public_status"] == "in_progress"
    text = response.content.decode()
    assert INTERNAL_NOTE not in text and "Staff " not in text
    internal = CaseAttachment.objects.get(event__action="commented")
    assert internal.file.name not in text
    assert [p["kind"] for p in body["photos"]] == ["report"]


STAFF_ONLY = ("grid", "urgency", "command_level", "stage", "light", "is_supervised",
              "pending_request", "verification")  # fmt: skip


def test_a_citizen_lists_their_own_case_as_its_public_view(world):
    case = _citizen_case(world)
    Case.objects.filter(pk=case.pk).update(pending_request="extension", verification="passed")

    (row,) = client_for(world.citizen).get("/api/v1/cases/").json()["results"]

    assert row["id"] == case.pk and row["in_full"] is False
    assert {name: row[name] for name in STAFF_ONLY} == dict.fromkeys(STAFF_ONLY)
    assert row["description"] == case.description and row["number"] == case.number


@pytest.mark.parametrize("who", ["handler", "dispatcher", "supervisor"])
def test_staff_list_the_same_case_in_full(world, who):
    case = _citizen_case(world)
    Case.objects.filter(pk=case.pk).update(pending_request="extension", verification="passed")

    rows = client_for(world.users[who]).get("/api/v1/cases/").json()["results"]

    (row,) = [r for r in rows if r["id"] == case.pk]
    assert row["in_full"] is True
    assert row["stage"] == case.stage and row["grid"] == case.grid.code
    assert row["pending_request"] == "extension" and row["verification"] == "passed"
    assert row["command_level"] == case.command_level and row["light"] is not None


@pytest.mark.parametrize("who", ["handler", "dispatcher", "supervisor"])
def test_staff_with_the_case_in_scope_see_it_in_full(world, who):
    case = _citizen_case(world)

    body = client_for(world.users[who]).get(f"/api/v1/cases/{case.pk}/").json()

    assert body["id"] == case.pk and "public_status" not in body
    (note,) = [e for e in body["events"] if e["action"] == "commented"]
    assert note["payload"]["text"] == INTERNAL_NOTE
    assert note["actor"] == "Staff Handler Person" and len(note["photos"]) == 1


def test_a_person_granted_the_case_by_name_sees_it_in_full(world):
    case = _citizen_case(world)
    url = f"/api/v1/cases/{case.pk}/"
    error(client_for(world.other_handler).get(url), 404, "not_found")

    services.case_add_cohandler(case=case.pk, actor=world.dispatcher, user=world.other_handler)

    body = client_for(fresh(world.other_handler)).get(url).json()
    assert "events" in body and "public_status" not in body


def test_a_return_answers_its_outcome_though_the_case_left_the_department(world):
    case = case_in(world, Status.DISPATCHED)
    handler = client_for(world.handler)

    response = handler.post(f"/api/v1/cases/{case.pk}/return/", {"reason": "非本部门"})

    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert response.json() == {
        "id": case.pk,
        "number": case.number,
        "status": "returned",
        "status_display": "returned",
        "version": case.version,
        "visible": False,
    }
    assert case.events.latest("id").action == "returned"
    error(handler.get(f"/api/v1/cases/{case.pk}/"), 404, "not_found")


def test_an_escalation_answers_the_case_the_dispatcher_still_sees(world):
    case = case_in(world, Status.REGISTERED)

    response = client_for(world.dispatcher).post(
        f"/api/v1/cases/{case.pk}/escalate/", {"reason": "跨街道"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["command_level"] == 2 and body["events"][-1]["action"] == "escalated"
    # It belongs to the district's centre now: this dispatcher may no longer dispatch it.
    assert "dispatch" not in body["actions"]


@pytest.mark.parametrize("action", ["rate", "reopen"])
def test_a_citizen_acting_on_their_own_case_gets_its_outcome(world, action):
    case = case_in(world, Status.CLOSED, reporter=world.citizen, source="citizen")
    payload = {"satisfaction": "satisfied"} if action == "rate" else {"reason": "又坏了"}

    response = client_for(world.citizen).post(
        f"/api/v1/cases/{case.pk}/{action}/", payload, format="json"
    )

    assert response.status_code == 200, response.content
    case.refresh_from_db()
    body = response.json()
    assert body["visible"] is True and body["version"] == case.version
    assert body["status"] == case.status == ("closed" if action == "rate" else "in_progress")
    assert "events" not in body


def test_an_overdue_directive_shows_on_the_case_and_filters_the_queue(world):
    """The sweep's overdue mark on a reminder shows where the directives
    show, and the case list finds exactly the cases with one (both ways)."""
    import datetime as dt

    from django.utils import timezone

    from cases import services, sweep
    from cases.models import CaseDirective

    now = timezone.now()
    late_case, on_time_case = case_in(world, Status.IN_PROGRESS), case_in(world, Status.IN_PROGRESS)
    late, _on_time = (
        services.case_issue_directive(
            case=case,
            actor=world.supervisor,
            kind="reminder",
            message="请尽快",
            due_at=now + dt.timedelta(hours=1),
        )
        for case in (late_case, on_time_case)
    )
    CaseDirective.objects.filter(pk=late.pk).update(due_at=now - dt.timedelta(minutes=1))
    sweep.sla_sweep(now=now)
    handler = client_for(world.handler)

    [shown] = handler.get(f"/api/v1/cases/{late_case.pk}/").json()["directives"]
    assert shown["id"] == late.pk and shown["is_overdue"] is True and shown["overdue_at"]
    [shown] = handler.get(f"/api/v1/cases/{on_time_case.pk}/").json()["directives"]
    assert shown["is_overdue"] is False and shown["overdue_at"] is None

    def listed(query):
        return {row["id"] for row in handler.get(f"/api/v1/cases/?{query}").json()["results"]}

    assert listed("directive_overdue=true") == {late_case.pk}
    assert on_time_case.pk in listed("directive_overdue=false")
    assert late_case.pk not in listed("directive_overdue=false")
    # another department's handler does not see it at all
    assert (
        client_for(world.other_handler)
        .get("/api/v1/cases/?directive_overdue=true")
        .json()["results"]
        == []
    )
