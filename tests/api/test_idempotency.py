"""Safe resubmission: an Idempotency-Key header (or a client_uuid field) makes
a retry return the first case (200, ``Idempotent-Replayed: true``) instead of
filing a second one; the same key with a different request is refused (422);
keys are scoped per user, per API client, and for anonymous tips; and two
identical submissions at the same moment still file one case.

The race tests use real threads, each with its own database connection and
transaction, committed for real (``transaction=True``); ``serialized_rollback``
puts back the categories that migrations load, which the flush after a
transactional test would otherwise leave empty for the tests that follow."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from cases import services
from cases.errors import SubmissionKeyReused
from cases.models import ApiClient, Case, Source, Status
from cases.services import steps
from organisation.models import User
from tests.api.helpers import Stored, client_for, error
from tests.api.images import phone_photo, plain_jpeg, upload
from tests.cases.conftest import IN_G1, IN_G4, wait_until_blocked_by_this_session

CASES = "/api/v1/cases/"
TIPS = "/api/v1/tips/"
KEY = "7d0f6a3e-0c1b-4f52-9a51-3d6c2b8f9e10"
REPLAYED = "Idempotent-Replayed"

db = pytest.mark.django_db
RACE = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def case_data(**fields):
    data = {"category": "BJ0101", "description": "井盖缺失", "lng": IN_G1[0], "lat": IN_G1[1]}
    data.update(fields)
    return data


def create(client, data=None, key=None, fmt="json"):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(CASES, data or case_data(), format=fmt, headers=headers)


def tip(data=None, key=None, fmt="json", client=None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    data = data or {
        "description": "路灯不亮",
        "lng": IN_G1[0],
        "lat": IN_G1[1],
        "phone": "13912345678",
    }
    return (client or APIClient()).post(TIPS, data, format=fmt, headers=headers)


# --- Staff: retry with the same key ----------------------------------------------------


@db
def test_a_retry_with_the_same_key_returns_the_first_case(world):
    client = client_for(world.grid_worker)

    first = create(client, key=KEY)
    again = create(client, key=KEY)

    assert first.status_code == 201, first.content
    assert REPLAYED not in first.headers
    assert again.status_code == 200, again.content
    assert again.headers[REPLAYED] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["number"] == first.json()["number"]
    case = Case.objects.get()
    assert case.events.count() == 1
    assert (case.submission_scope, case.submission_key) == (f"user:{world.grid_worker.pk}", KEY)
    assert len(case.submission_fingerprint) == 64


@db
def test_without_a_key_a_retry_files_a_second_case(world):
    client = client_for(world.grid_worker)
    assert create(client).status_code == 201
    assert create(client).status_code == 201
    assert Case.objects.count() == 2


@db
def test_a_retry_with_photos_stores_no_second_copy(world):
    client = client_for(world.grid_worker)
    photo = phone_photo("HEIF").read()

    def attempt():
        return create(client, case_data(photos=[upload(photo, "a.heic")]), KEY, fmt="multipart")

    first = attempt()
    before = Stored()
    again = attempt()

    assert first.status_code == 201 and again.status_code == 200, again.content
    assert again.headers[REPLAYED] == "true"
    assert [p["id"] for p in again.json()["photos"]] == [p["id"] for p in first.json()["photos"]]
    before.assert_unchanged()


@db
def test_the_client_uuid_field_works_like_the_header(world):
    client = client_for(world.grid_worker)

    first = create(client, case_data(client_uuid=KEY))
    again = create(client, case_data(client_uuid=KEY))

    assert first.status_code == 201, first.content
    assert again.status_code == 200 and again.headers[REPLAYED] == "true"
    assert again.json()["id"] == first.json()["id"]
    # The header and the field name the same submission.
    by_header = create(client, case_data(), key=KEY)
    assert by_header.status_code == 200 and by_header.json()["id"] == first.json()["id"]
    assert Case.objects.count() == 1


@db
def test_the_header_and_client_uuid_may_agree(world):
    response = create(client_for(world.grid_worker), case_data(client_uuid=KEY), key=KEY)
    assert response.status_code == 201, response.content
    assert Case.objects.get().submission_key == KEY


@db
def test_the_header_and_client_uuid_differing_is_refused(world):
    before = Stored()

    response = create(client_for(world.grid_worker), case_data(client_uuid="other"), key=KEY)

    body = error(response, 400, "invalid")
    assert list(body["fields"]) == ["client_uuid"]
    before.assert_unchanged()


@db
def test_a_retry_after_the_case_moved_on_returns_it_as_it_is_now(world):
    client = client_for(world.grid_worker)
    first = create(client, key=KEY).json()
    services.case_register(case=first["id"], actor=world.dispatcher)

    again = create(client, key=KEY)

    assert again.status_code == 200 and again.headers[REPLAYED] == "true"
    assert again.json()["id"] == first["id"] and again.json()["status"] == Status.REGISTERED
    assert Case.objects.count() == 1


# --- Staff: the same key for something else --------------------------------------------


@pytest.mark.parametrize(
    "changed",
    [
        {"description": "井盖破损"},
        {"lng": IN_G1[0] + 0.001},
        {"category": "BJ0102"},
        {"urgency": "urgent"},
        {"reporter_phone": "13800000000"},
    ],
    ids=["description", "lng", "category", "urgency", "phone"],
)
@db
def test_the_same_key_for_a_different_report_is_refused(world, changed):
    client = client_for(world.grid_worker)
    first = create(client, key=KEY).json()
    before = Stored()

    response = create(client, case_data(**changed), key=KEY)

    body = error(response, 422, "idempotency_key_reused")
    assert list(body["fields"]) == ["idempotency_key"]
    assert first["number"] in body["message"]
    assert REPLAYED not in response.headers
    before.assert_unchanged()


@db
def test_the_same_key_with_another_photo_is_refused(world):
    client = client_for(world.grid_worker)
    first = create(client, case_data(photos=[plain_jpeg(color=(1, 2, 3))]), KEY, fmt="multipart")
    assert first.status_code == 201, first.content
    before = Stored()

    response = create(
        client, case_data(photos=[plain_jpeg(color=(250, 250, 250))]), KEY, fmt="multipart"
    )

    error(response, 422, "idempotency_key_reused")
    before.assert_unchanged()


@db
def test_the_service_raises_submission_key_reused(world):
    services.case_report(
        reporter=world.grid_worker, source=Source.GRID_WORKER, description="a",
        lng=IN_G1[0], lat=IN_G1[1], idempotency_key=KEY,
    )  # fmt: skip
    with pytest.raises(SubmissionKeyReused) as refused:
        services.case_report(
            reporter=world.grid_worker, source=Source.GRID_WORKER, description="b",
            lng=IN_G1[0], lat=IN_G1[1], idempotency_key=KEY,
        )  # fmt: skip
    assert refused.value.status == 422 and refused.value.field == "idempotency_key"
    assert Case.objects.count() == 1


# --- Staff: keys are per user; what a key may be ---------------------------------------


@db
def test_the_same_key_from_two_people_files_two_cases(world):
    mine = create(client_for(world.grid_worker), key=KEY)
    theirs = create(client_for(world.other_worker), case_data(lng=IN_G4[0], lat=IN_G4[1]), key=KEY)

    assert mine.status_code == 201 and theirs.status_code == 201, theirs.content
    assert mine.json()["id"] != theirs.json()["id"]
    assert REPLAYED not in theirs.headers
    scopes = set(Case.objects.values_list("submission_scope", flat=True))
    assert scopes == {f"user:{world.grid_worker.pk}", f"user:{world.other_worker.pk}"}


@db
def test_the_same_key_from_two_people_with_the_same_report_files_two_cases(world):
    dispatcher = client_for(world.dispatcher)
    city = client_for(world.city_dispatcher)
    data = case_data(source="hotline")

    first, second = create(dispatcher, data, KEY), create(city, data, KEY)

    assert (first.status_code, second.status_code) == (201, 201), second.content
    assert first.json()["id"] != second.json()["id"]


@db
def test_keys_of_api_clients_are_scoped_per_client(world):
    first_app = ApiClient.objects.create(name="12345 热线 App")
    second_app = ApiClient.objects.create(name="Another app")

    def submit(app):
        return services.case_report(
            reporter=None, source=Source.CITIZEN, description="路灯不亮",
            lng=IN_G1[0], lat=IN_G1[1], api_client=app, idempotency_key=KEY,
        )  # fmt: skip

    first = submit(first_app)
    again = submit(first_app)
    other = submit(second_app)
    anonymous = submit(None)

    assert first.replayed is False and again.replayed is True and again.pk == first.pk
    assert other.replayed is False and other.pk != first.pk
    assert anonymous.replayed is False and anonymous.pk not in (first.pk, other.pk)
    assert set(Case.objects.values_list("submission_scope", flat=True)) == {
        f"client:{first_app.pk}", f"client:{second_app.pk}", "anonymous",
    }  # fmt: skip


@db
def test_a_staff_key_and_an_anonymous_key_do_not_meet(world):
    staff = create(client_for(world.grid_worker), key=KEY)
    anonymous = tip(key=KEY)
    assert staff.status_code == 201 and anonymous.status_code == 201, anonymous.content
    assert Case.objects.count() == 2


@pytest.mark.parametrize(
    ("how", "field"), [("header", "idempotency_key"), ("client_uuid", "client_uuid")]
)
@db
def test_an_over_long_key_is_refused(world, how, field):
    client = client_for(world.grid_worker)
    before = Stored()
    long_key = "k" * 101

    if how == "header":
        response = create(client, key=long_key)
    else:
        response = create(client, case_data(client_uuid=long_key))

    body = error(response, 400, "invalid")
    assert list(body["fields"]) == [field]
    before.assert_unchanged()
    # A hundred characters is fine.
    assert create(client, key="k" * 100).status_code == 201


@db
def test_a_refused_attempt_does_not_use_up_the_key(world):
    client = client_for(world.grid_worker)
    bad = create(client, case_data(lng=116.4, lat=39.9), KEY)
    error(bad, 400, "outside_jurisdiction")

    good = create(client, key=KEY)

    assert good.status_code == 201, good.content
    assert REPLAYED not in good.headers


@db
def test_a_rolled_back_attempt_does_not_use_up_the_key(world, monkeypatch):
    original = steps.attach

    def failing(*args, **kwargs):
        original(*args, **kwargs)
        raise RuntimeError("after the insert")

    monkeypatch.setattr(steps, "attach", failing)
    with pytest.raises(RuntimeError):
        services.case_report(
            reporter=world.grid_worker, source=Source.GRID_WORKER, description="a",
            lng=IN_G1[0], lat=IN_G1[1], idempotency_key=KEY,
        )  # fmt: skip
    monkeypatch.setattr(steps, "attach", original)

    case = services.case_report(
        reporter=world.grid_worker, source=Source.GRID_WORKER, description="a",
        lng=IN_G1[0], lat=IN_G1[1], idempotency_key=KEY,
    )  # fmt: skip
    assert case.replayed is False and Case.objects.get().pk == case.pk


# --- Anonymous tips -------------------------------------------------------------------


@db
def test_an_anonymous_tip_retried_with_its_key(world):
    first = tip(key=KEY)
    again = tip(key=KEY)

    assert first.status_code == 201, first.content
    assert again.status_code == 200 and again.headers[REPLAYED] == "true"
    assert again.json() == first.json()  # the same token, number and status URL
    case = Case.objects.get()
    assert case.submission_scope == "anonymous" and case.reporter is None


@db
def test_an_anonymous_tip_with_photos_retried_by_client_uuid(world):
    photo = phone_photo("JPEG").read()

    def attempt():
        data = {"description": "路灯不亮", "client_uuid": KEY, "photos": [upload(photo)]}
        return tip(data, fmt="multipart")  # placed by the photo's GPS

    first = attempt()
    before = Stored()
    again = attempt()

    assert first.status_code == 201, first.content
    assert again.status_code == 200 and again.headers[REPLAYED] == "true"
    assert again.json()["tracking_token"] == first.json()["tracking_token"]
    before.assert_unchanged()


@db
def test_an_anonymous_key_for_a_different_tip_is_refused(world):
    first = tip(key=KEY).json()
    before = Stored()

    other = {"description": "另一件事", "lng": IN_G1[0], "lat": IN_G1[1]}
    body = error(tip(other, key=KEY), 422, "idempotency_key_reused")

    assert list(body["fields"]) == ["idempotency_key"]
    # Anonymous keys share one scope: nothing about someone else's tip is told.
    assert first["number"] not in body["message"]
    assert first["number"] not in str(body["fields"])
    before.assert_unchanged()


@db
def test_an_anonymous_over_long_key_is_refused(world):
    body = error(tip(key="x" * 101), 400, "invalid")
    assert list(body["fields"]) == ["idempotency_key"]
    assert not Case.objects.exists()


# --- Two identical submissions at the same moment ------------------------------------------


@pytest.fixture
def held_first_insert(monkeypatch):
    """The submission that inserts first holds its transaction open (in
    ``steps.attach``, after the insert) until the other one waits on the unique
    index; counts the inserts that got that far and the look-ups of the key."""
    original_attach = steps.attach
    original_earlier = services._Submission.earlier
    seen = {"inserted": 0, "lookups": 0}
    guard = threading.Lock()

    def attach(*args, **kwargs):
        result = original_attach(*args, **kwargs)
        with guard:
            seen["inserted"] += 1
            first = seen["inserted"] == 1
        if first:
            wait_until_blocked_by_this_session()
        return result

    def earlier(self):
        with guard:
            seen["lookups"] += 1
        return original_earlier(self)

    monkeypatch.setattr(steps, "attach", attach)
    monkeypatch.setattr(services._Submission, "earlier", earlier)
    return seen


def at_once(*calls):
    """Run each call in its own thread, released together; (result, error) each."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=10)
            outcomes[i] = (call(), None)
        except Exception as exc:  # the outcome under test
            outcomes[i] = (None, exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(not t.is_alive() for t in threads), "a submission hung"
    return outcomes


@RACE
def test_two_identical_submissions_at_once_file_one_case(world, held_first_insert):
    worker_pk = world.grid_worker.pk
    photo = plain_jpeg(size=(120, 80)).read()
    before = Stored()

    def submit():
        return services.case_report(
            reporter=User.objects.get(pk=worker_pk),
            source=Source.GRID_WORKER,
            description="井盖缺失",
            lng=IN_G1[0],
            lat=IN_G1[1],
            photos=[upload(photo)],
            idempotency_key=KEY,
        )

    outcomes = at_once(submit, submit)

    assert [e for _r, e in outcomes] == [None, None], outcomes
    cases = [r for r, _e in outcomes]
    assert cases[0].pk == cases[1].pk
    assert sorted(c.replayed for c in cases) == [False, True]
    # One insert got through; the other waited on the unique index, failed,
    # and looked the key up again: three look-ups in all.
    assert held_first_insert == {"inserted": 1, "lookups": 3}
    case = Case.objects.get()
    assert case.submission_key == KEY and case.events.count() == 1
    (attachment,) = case.attachments.all()
    assert before.new_files() == {attachment.file.name, attachment.thumbnail.name}


@RACE
def test_two_different_submissions_with_one_key_at_once(world, held_first_insert):
    worker_pk = world.grid_worker.pk

    def submit(description):
        return lambda: services.case_report(
            reporter=User.objects.get(pk=worker_pk),
            source=Source.GRID_WORKER,
            description=description,
            lng=IN_G1[0],
            lat=IN_G1[1],
            idempotency_key=KEY,
        )

    outcomes = at_once(submit("井盖缺失"), submit("路灯不亮"))

    wins = [r for r, e in outcomes if e is None]
    losses = [e for _r, e in outcomes if e is not None]
    assert len(wins) == 1 and len(losses) == 1, outcomes
    assert isinstance(losses[0], SubmissionKeyReused), repr(losses[0])
    assert wins[0].replayed is False
    assert Case.objects.get().pk == wins[0].pk
    assert held_first_insert["inserted"] == 1


@RACE
def test_two_identical_requests_at_once_through_the_api(world, held_first_insert):
    clients = []
    for _ in range(2):
        client = APIClient()
        client.force_authenticate(User.objects.get(pk=world.grid_worker.pk))
        clients.append(client)

    outcomes = at_once(*(lambda c=c: create(c, key=KEY) for c in clients))

    assert [e for _r, e in outcomes] == [None, None], outcomes
    responses = [r for r, _e in outcomes]
    assert sorted(r.status_code for r in responses) == [200, 201], [r.content for r in responses]
    replayed = next(r for r in responses if r.status_code == 200)
    assert replayed.headers[REPLAYED] == "true"
    assert responses[0].json()["id"] == responses[1].json()["id"]
    assert Case.objects.count() == 1
    assert held_first_insert == {"inserted": 1, "lookups": 3}


@RACE
def test_two_identical_tips_at_once_through_the_api(world, held_first_insert):
    outcomes = at_once(lambda: tip(key=KEY), lambda: tip(key=KEY))

    assert [e for _r, e in outcomes] == [None, None], outcomes
    responses = [r for r, _e in outcomes]
    assert sorted(r.status_code for r in responses) == [200, 201], [r.content for r in responses]
    tokens = {r.json()["tracking_token"] for r in responses}
    assert len(tokens) == 1
    assert Case.objects.get().tracking_token == tokens.pop()
    assert held_first_insert == {"inserted": 1, "lookups": 3}
