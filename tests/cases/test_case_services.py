"""Each service's own rules: inputs, routing, the side paths of the loop, and
that a refused action stores nothing."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone

from cases import services
from cases.errors import ActionForbidden, CaseConflict, CaseInputError
from cases.models import (
    Case,
    CaseDirective,
    CaseEvent,
    CaseFollower,
    Category,
    DirectiveKind,
    RoutingRule,
    Source,
    Status,
)
from cases.selectors import duplicate_candidates
from organisation.models import Department
from tests.cases.conftest import IN_G1, IN_G4, case_in, fresh, jpeg, report

pytestmark = pytest.mark.django_db


def unchanged(case):
    stored = Case.objects.get(pk=case.pk)
    return stored.status == case.status and stored.version == case.version


# --- Reporting ---------------------------------------------------------------------


def test_a_point_outside_every_grid_is_refused_and_nothing_is_stored(world):
    with pytest.raises(CaseInputError) as exc:
        report(world, point=(119.95, 31.71))  # the gap in community 2
    assert exc.value.field == "location"
    assert exc.value.code == "outside_jurisdiction"
    assert not Case.objects.exists()


def test_a_grid_worker_reports_only_in_their_own_grids(world):
    with pytest.raises(ActionForbidden, match="320402001001004"):
        report(world, point=IN_G4)
    assert not Case.objects.exists()
    assert report(world, point=IN_G4, reporter=world.other_worker).grid.code.endswith("004")


def test_hotline_reports_are_taken_by_a_dispatcher_in_their_area(world):
    case = report(world, reporter=world.dispatcher, source=Source.HOTLINE)
    assert case.source == Source.HOTLINE
    with pytest.raises(ActionForbidden):
        report(world, reporter=world.far_dispatcher, source=Source.HOTLINE)


def test_an_anonymous_citizen_tip_keeps_the_contact_details(world):
    case = report(
        world,
        reporter=None,
        source=Source.CITIZEN,
        category=None,
        reporter_name="张三",
        reporter_phone="13912345678",
    )
    assert case.reporter is None and case.reporter_phone == "13912345678"
    assert case.category is None
    assert CaseEvent.objects.get(case=case).actor is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"description": "   "}, "description"),
        ({"description": "x" * 4001}, "description"),
        ({"source": "pigeon"}, "source"),
        ({"urgency": "whenever"}, "urgency"),
        ({"photos": [SimpleUploadedFile("a.jpg", b"not an image")]}, "photos"),
        ({"point": (200.0, 31.7)}, "location"),
    ],
)
def test_bad_report_input_names_the_field_and_stores_nothing(world, kwargs, field):
    with pytest.raises(CaseInputError) as exc:
        report(world, **kwargs)
    assert exc.value.field == field
    assert not Case.objects.exists()


def test_a_truncated_jpeg_is_refused(world):
    photo = jpeg()
    truncated = SimpleUploadedFile("cut.jpg", photo.read()[:200], content_type="image/jpeg")
    with pytest.raises(CaseInputError, match="not a readable"):
        report(world, photos=[truncated])


def test_a_gif_is_refused_by_content_whatever_its_name(world):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "GIF")
    with pytest.raises(CaseInputError, match="GIF"):
        report(world, photos=[SimpleUploadedFile("looks.jpg", buffer.getvalue())])


@override_settings(CASES_PHOTO_MAX_PIXELS=1000)
def test_an_image_with_too_many_pixels_is_refused(world):
    with pytest.raises(CaseInputError, match="too many pixels"):
        report(world, photos=[jpeg(size=(100, 100))])


def test_self_handled_report_goes_to_inspection_with_its_photo(world):
    case = report(world, self_handled=True, handling_photos=[jpeg()])
    assert case.status == Status.HANDLED and case.self_handled and case.stage == "inspect"
    actions = list(case.events.values_list("action", flat=True))
    assert actions == ["reported", "self_handled"]
    assert case.attachments.get().kind == "handling"


def test_self_handled_needs_a_handling_photo_and_a_grid_worker(world):
    with pytest.raises(CaseInputError, match="photo"):
        report(world, self_handled=True)
    with pytest.raises(CaseInputError):
        report(
            world,
            reporter=world.dispatcher,
            source=Source.HOTLINE,
            self_handled=True,
            handling_photos=[jpeg()],
        )
    assert not Case.objects.exists()


# --- Registration, routing, dispatch -------------------------------------------------


def test_registering_needs_a_category(world):
    case = report(world, reporter=None, source=Source.CITIZEN, category=None)
    with pytest.raises(CaseInputError) as exc:
        services.case_register(case=case, actor=world.dispatcher)
    assert exc.value.field == "category" and unchanged(case)
    case = services.case_register(case=case, actor=world.dispatcher, category=world.category)
    assert case.category == world.category


def test_the_most_specific_routing_rule_wins(world):
    RoutingRule.objects.create(
        category=world.category, area=world.city.district, department=world.szgs
    )
    community_dept = Department.objects.create(
        code="SQ1", name="社区工作站", jurisdiction=world.city.community
    )
    RoutingRule.objects.create(
        category=world.category, area=world.city.community, department=community_dept
    )
    in_community = services.case_register(case=report(world), actor=world.dispatcher)
    assert in_community.routed_department == community_dept
    elsewhere = services.case_register(
        case=report(world, point=(119.95, 31.73), reporter=world.dispatcher, source="hotline"),
        actor=world.dispatcher,
    )
    assert elsewhere.routed_department == world.szgs  # district rule, not the default


def test_an_unrouted_case_is_flagged_and_needs_a_department_to_dispatch(world):
    category = Category.objects.get(code="SJ0609")  # other incidents: no default department
    case = services.case_register(case=report(world, category=category), actor=world.dispatcher)
    assert case.unrouted and case.routed_department is None
    assert case.events.last().payload["unrouted"] is True
    with pytest.raises(CaseInputError) as exc:
        services.case_dispatch(case=case, actor=world.dispatcher)
    assert exc.value.code == "unrouted" and unchanged(case)
    case = services.case_dispatch(case=case, actor=world.dispatcher, department=world.szgs)
    assert case.department == world.szgs


def test_dispatch_outside_a_departments_jurisdiction_is_refused(world):
    far = Department.objects.create(
        code="FAR", name="外区城管", jurisdiction=world.users["far_supervisor"].roles.get().area
    )
    case = case_in(world, Status.REGISTERED)
    with pytest.raises(CaseInputError, match="jurisdiction"):
        services.case_dispatch(case=case, actor=world.dispatcher, department=far)
    assert unchanged(case)


def test_return_and_redispatch(world):
    case = case_in(world, Status.RETURNED)
    assert case.department is None and case.return_count == 1
    assert case.events.last().payload["reason"] == "不属于本部门"
    case = services.case_dispatch(case=case, actor=world.dispatcher, department=world.szgs)
    assert case.events.last().action == "redispatched"
    assert case.status == Status.DISPATCHED and case.department == world.szgs


def test_return_needs_a_reason(world):
    case = case_in(world, Status.DISPATCHED)
    with pytest.raises(CaseInputError, match="reason"):
        services.case_return(case=case, actor=world.handler, reason=" ")
    assert unchanged(case)


def test_escalation_moves_the_case_one_command_level_up(world):
    case = case_in(world, Status.REGISTERED)
    case = services.case_escalate(case=case, actor=world.dispatcher, reason="跨街道")
    assert case.command_level == 2 and case.status == Status.REGISTERED
    event = case.events.last()
    assert event.payload == {"from_level": 3, "to_level": 2, "reason": "跨街道"}


# --- Handling -------------------------------------------------------------------------


def test_extension_request_and_approval(world):
    case = case_in(world, Status.IN_PROGRESS)
    due = case.due_at
    case = services.case_request_extension(case=case, actor=world.handler, amount=2, reason="x")
    assert case.pending_request == "extension"
    with pytest.raises(CaseConflict, match="waiting for a decision"):
        services.case_request_suspension(case=case, actor=world.handler, reason="y")
    case = services.case_decide_extension(case=case, actor=world.dispatcher, approve=True)
    assert case.pending_request == "" and case.extension_count == 1
    assert case.due_at > due


@pytest.mark.parametrize("amount", [0, -1, 1001, 1.5, "2", True])
def test_an_extension_amount_must_be_a_sensible_whole_number(world, amount):
    case = case_in(world, Status.IN_PROGRESS)
    with pytest.raises(CaseInputError) as exc:
        services.case_request_extension(case=case, actor=world.handler, amount=amount, reason="x")
    assert exc.value.field == "amount" and unchanged(case)


def test_deciding_without_a_request_is_a_conflict(world):
    case = case_in(world, Status.IN_PROGRESS)
    with pytest.raises(CaseConflict, match="No extension was requested"):
        services.case_decide_extension(case=case, actor=world.dispatcher, approve=True)


def test_suspension_and_resume(world):
    case = case_in(world, Status.SUSPENDED)
    assert case.due_at is None and case.suspended_at is not None
    case = services.case_resume(case=case, actor=world.handler)
    assert case.status == Status.IN_PROGRESS and case.due_at is not None


def test_report_back_needs_a_photo_and_a_note(world):
    case = case_in(world, Status.IN_PROGRESS)
    with pytest.raises(CaseInputError, match="photo"):
        services.case_report_back(case=case, actor=world.handler, note="done", photos=[])
    with pytest.raises(CaseInputError) as exc:
        services.case_report_back(case=case, actor=world.handler, note="", photos=[jpeg()])
    assert exc.value.field == "note"
    assert unchanged(case) and not case.attachments.exists()


def test_failed_inspection_is_rework(world):
    case = case_in(world, Status.HANDLED)
    case = services.case_inspect(
        case=case, actor=world.grid_worker, passed=False, note="井盖松动", photos=[jpeg()]
    )
    assert case.status == Status.IN_PROGRESS and case.rework_count == 1
    assert case.events.last().action == "rework"
    assert case.attachments.filter(kind="inspection").count() == 1


# --- After closing ---------------------------------------------------------------------


def citizen_case(world, status):
    return case_in(
        world, status, reporter=world.citizen, source=Source.CITIZEN, reporter_phone="139"
    )


def test_the_reporter_rates_once(world):
    case = citizen_case(world, Status.CLOSED)
    case = services.case_rate(case=case, actor=world.citizen, satisfaction="satisfied")
    assert case.satisfaction == "satisfied"
    with pytest.raises(CaseConflict, match="already been rated"):
        services.case_rate(case=case, actor=world.citizen, satisfaction="unsatisfied")
    with pytest.raises(CaseInputError):
        services.case_rate(case=case, actor=world.citizen, satisfaction="meh")


def test_reopen_within_the_window_returns_to_the_department(world):
    case = citizen_case(world, Status.CLOSED)
    case = services.case_reopen(case=case, actor=world.citizen, reason="井盖又坏了")
    assert case.status == Status.IN_PROGRESS and case.department == world.cgj
    assert case.closed_at is None and case.stage == "handle"


def test_reopen_after_the_window_is_refused(world, settings):
    case = citizen_case(world, Status.CLOSED)
    Case.objects.filter(pk=case.pk).update(closed_at=timezone.now() - dt.timedelta(days=8))
    with pytest.raises(CaseConflict, match="reopening"):
        services.case_reopen(case=case, actor=world.citizen, reason="again")
    settings.CASES_REOPEN_DAYS = 10
    assert services.case_reopen(case=case, actor=world.citizen, reason="again").is_open


# --- Oversight ---------------------------------------------------------------------------


def test_reminder_and_supervision_order_and_their_settling(world):
    case = case_in(world, Status.IN_PROGRESS)
    due = timezone.now() + dt.timedelta(hours=4)
    services.case_issue_directive(
        case=case, actor=world.supervisor, kind=DirectiveKind.REMINDER, message="请尽快", due_at=due
    )
    services.case_issue_directive(
        case=case, actor=world.supervisor, kind="supervision", message="督办", due_at=due
    )
    stored = Case.objects.get(pk=case.pk)
    assert stored.is_supervised
    assert CaseDirective.objects.filter(case=case, settled_at=None).count() == 2
    services.case_report_back(case=case, actor=world.handler, note="done", photos=[jpeg()])
    assert not Case.objects.get(pk=case.pk).is_supervised
    assert not CaseDirective.objects.filter(case=case, settled_at=None).exists()


def test_a_directive_deadline_must_be_in_the_future(world):
    case = case_in(world, Status.IN_PROGRESS)
    with pytest.raises(CaseInputError) as exc:
        services.case_issue_directive(
            case=case,
            actor=world.supervisor,
            kind="reminder",
            message="x",
            due_at=timezone.now() - dt.timedelta(minutes=1),
        )
    assert exc.value.field == "due_at" and not CaseDirective.objects.exists()


def test_directives_on_a_closed_case_are_a_conflict(world):
    case = case_in(world, Status.CLOSED)
    with pytest.raises(CaseConflict):
        services.case_issue_directive(
            case=case,
            actor=world.supervisor,
            kind="reminder",
            message="x",
            due_at=timezone.now() + dt.timedelta(hours=1),
        )


# --- Duplicates ----------------------------------------------------------------------------


def test_open_cases_nearby_are_offered_as_duplicates_on_registration(world):
    original = case_in(world, Status.DISPATCHED)
    near = report(world, point=(IN_G1[0] + 0.0001, IN_G1[1]))  # about 10 m east
    far = report(world, point=(IN_G1[0] + 0.005, IN_G1[1]))  # about 500 m east
    other_category = report(world, point=IN_G1, category=Category.objects.get(code="BJ0118"))
    assert duplicate_candidates(near) == [original]
    assert duplicate_candidates(far) == []
    assert duplicate_candidates(other_category) == []
    registered = services.case_register(case=near, actor=world.dispatcher)
    assert registered.events.last().payload["duplicate_candidates"] == [original.pk]


def test_cases_outside_the_time_window_are_not_duplicates(world):
    original = case_in(world, Status.DISPATCHED)
    hours = world.category.duplicate_window_hours
    Case.objects.filter(pk=original.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=hours + 1)
    )
    assert duplicate_candidates(report(world)) == []


def test_merge_links_the_duplicate_and_its_reporter_follows_the_original(world):
    original = case_in(world, Status.DISPATCHED)
    tip = report(world, reporter=world.citizen, source=Source.CITIZEN, reporter_phone="13900000000")
    merged = services.case_merge(case=tip, actor=world.dispatcher, original=original)
    assert merged.status == Status.REJECTED and merged.duplicate_of == original
    assert merged.reject_reason == "duplicate"
    follower = CaseFollower.objects.get(case=original)
    assert follower.user == world.citizen and follower.via == merged
    assert original.events.last().action == "duplicate_merged"
    # the citizen now sees the original
    from cases.selectors import cases_visible_to

    assert cases_visible_to(fresh(world.citizen)).filter(pk=original.pk).exists()


def test_merge_into_a_closed_case_or_itself_is_refused(world):
    closed = case_in(world, Status.CLOSED)
    tip = report(world)
    with pytest.raises(CaseInputError):
        services.case_merge(case=tip, actor=world.dispatcher, original=closed)
    with pytest.raises(CaseInputError):
        services.case_merge(case=tip, actor=world.dispatcher, original=tip)
    assert unchanged(tip) and not CaseFollower.objects.exists()


def test_an_approved_extension_turns_a_yellow_light_green_for_a_new_deadline(world):
    from cases.models import Light
    from cases.sweep import sla_sweep

    case = case_in(world, Status.IN_PROGRESS)
    now = timezone.now()
    Case.objects.filter(pk=case.pk).update(
        yellow_at=now - dt.timedelta(minutes=1), due_at=now + dt.timedelta(minutes=30)
    )
    sla_sweep(now=now)
    yellow = Case.objects.get(pk=case.pk)
    assert yellow.light == Light.YELLOW
    services.case_request_extension(case=case, actor=world.handler, amount=5, reason="材料未到")
    extended = services.case_decide_extension(case=case, actor=world.dispatcher, approve=True)
    assert extended.light == Light.GREEN and extended.yellow_at > now
    assert extended.stage_seq == yellow.stage_seq + 1
    # crossing yellow again is recorded again
    Case.objects.filter(pk=case.pk).update(yellow_at=now)
    assert sla_sweep(now=now + dt.timedelta(seconds=1)).yellow == 1
    assert case.events.filter(action="sla_yellow").count() == 2


def test_a_registered_case_can_still_be_merged(world):
    original = case_in(world, Status.DISPATCHED)
    second = case_in(world, Status.REGISTERED)
    merged = services.case_merge(case=second, actor=world.dispatcher, original=original)
    assert merged.status == Status.REJECTED and merged.duplicate_of == original


def test_merging_into_a_case_of_another_centre_is_refused(world):
    original = case_in(world, Status.REGISTERED)
    services.case_escalate(case=original, actor=world.dispatcher, reason="跨街道")
    tip = report(world)
    with pytest.raises(ActionForbidden):
        services.case_merge(case=tip, actor=fresh(world.dispatcher), original=original)
    assert unchanged(tip)


def test_a_return_settles_the_orders_addressed_to_the_department(world):
    case = case_in(world, Status.DISPATCHED)
    services.case_issue_directive(
        case=case,
        actor=world.supervisor,
        kind="supervision",
        message="督办",
        due_at=timezone.now() + dt.timedelta(hours=2),
    )
    case = services.case_return(case=case, actor=world.handler, reason="不属于本部门")
    assert not case.is_supervised
    assert not CaseDirective.objects.filter(case=case, settled_at=None).exists()


def test_a_case_handled_on_the_spot_needs_a_category(world):
    with pytest.raises(CaseInputError) as exc:
        report(world, category=None, self_handled=True, handling_photos=[jpeg()])
    assert exc.value.field == "category" and not Case.objects.exists()


def test_staff_who_filed_a_case_do_not_rate_or_reopen_it(world):
    case = case_in(world, Status.CLOSED)  # filed by the grid worker
    with pytest.raises(ActionForbidden):
        services.case_rate(case=case, actor=world.grid_worker, satisfaction="satisfied")
    with pytest.raises(ActionForbidden):
        services.case_reopen(case=case, actor=world.grid_worker, reason="x")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda w, c: services.case_decide_extension(case=c, actor=w.dispatcher, approve="false"),
         "approve"),
        (lambda w, c: services.case_comment(case=c, actor=w.handler, text=5), "text"),
        (lambda w, c: services.case_issue_directive(
            case=c, actor=w.supervisor, kind="reminder", message="x", due_at="tomorrow"), "due_at"),
        (lambda w, c: services.case_issue_directive(
            case=c, actor=w.supervisor, kind="reminder", message="x",
            due_at=dt.datetime(2030, 1, 1)), "due_at"),
        (lambda w, c: services.case_merge(case=c, actor=w.dispatcher, original="x"), "original"),
    ],
)  # fmt: skip
def test_wrong_types_are_input_errors(world, call, field):
    case = case_in(world, Status.IN_PROGRESS)
    with pytest.raises(CaseInputError) as exc:
        call(world, case)
    assert exc.value.field == field and unchanged(case)


def test_a_case_id_that_is_not_a_number_is_not_found(world):
    from cases.errors import CaseNotFound

    with pytest.raises(CaseNotFound):
        services.case_acknowledge(case="abc", actor=world.handler)
