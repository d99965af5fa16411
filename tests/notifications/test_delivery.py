"""Email and SMS: sent once the action commits, in the notification's
language, public-safe for citizens, retried a bounded number of times, and
caught up when their task was lost."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from django.conf import settings
from django.utils import timezone

from cases import services, sweep
from cases.models import Case, CaseDirective, Source, Status
from notifications import delivery, rendering, sms, tasks
from notifications.models import Kind, Notification
from notifications.services import notify_provisional_calendar
from organisation.models import Role, RoleMembership
from tests.cases.conftest import case_in, jpeg, report
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

EMAIL = "zhang@example.com"
PHONE = "13912345678"
CJK = re.compile(r"[\u4e00-\u9fff]")


class FailingBackend(sms.BaseBackend):
    def send_messages(self, messages):
        raise ConnectionError("SMS gateway unreachable")


def tip(world, **kwargs):
    kwargs.setdefault("reporter", None)
    kwargs.setdefault("reporter_email", EMAIL)
    kwargs.setdefault("reporter_phone", PHONE)
    kwargs.setdefault("reporter_name", "张三")
    return report(world, source=Source.CITIZEN, **kwargs)


def registered_tip(world, commit, **kwargs):
    case = tip(world, **kwargs)
    with commit(execute=True):
        services.case_register(case=case, actor=world.dispatcher, note="内部备注: 先核实")
    return case


def outgoing(case, **filters):
    return Notification.objects.filter(case=case, channel__in=["email", "sms"], **filters)


# --- Sent after commit ------------------------------------------------------------------


def test_a_tip_update_is_emailed_and_texted_after_commit_in_english(
    world, mailoutbox, sms_outbox, django_capture_on_commit_callbacks
):
    case = tip(world)
    with django_capture_on_commit_callbacks(execute=True):
        services.case_register(case=case, actor=world.dispatcher)
        assert mailoutbox == [] and sms_outbox == []  # nothing before the commit

    [email] = mailoutbox
    assert email.to == [EMAIL]
    assert email.subject == f"Your report {case.number} was accepted"
    assert email.from_email == settings.DEFAULT_FROM_EMAIL
    assert email.extra_headers["Auto-Submitted"] == "auto-generated"
    link = f"http://localhost:8000/track/{case.tracking_token}/"
    assert f"Your report {case.number} was accepted as a case." in email.body
    assert link in email.body
    assert "Urban governance command centre" in email.body

    [text] = sms_outbox
    assert text.to == PHONE
    assert text.text == f"Your report {case.number} was accepted as a case. {link}"
    for row in outgoing(case):
        assert row.sent_at is not None and row.attempts == 1 and row.last_error == ""


def test_a_tip_update_in_chinese(
    world, settings, mailoutbox, sms_outbox, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_LANGUAGE = "zh-hans"
    case = registered_tip(world, django_capture_on_commit_callbacks)
    [email] = mailoutbox
    assert email.subject == f"您反映的问题 {case.number} 已受理"
    assert f"您反映的问题（{case.number}）已立案受理。" in email.body
    assert "城市治理指挥中心" in email.body and "请勿回复" in email.body
    [text] = sms_outbox
    assert text.text.startswith(f"您反映的问题（{case.number}）已立案受理。查看进度：http")
    assert set(outgoing(case).values_list("language", flat=True)) == {"zh-hans"}


def test_the_closure_in_both_languages(
    world, settings, mailoutbox, sms_outbox, django_capture_on_commit_callbacks
):
    case = tip(world)
    services.case_register(case=case, actor=world.dispatcher)
    services.case_dispatch(case=case, actor=world.dispatcher)
    services.case_acknowledge(case=case, actor=world.handler)
    services.case_report_back(case=case, actor=world.handler, note="已更换井盖", photos=[jpeg()])
    settings.NOTIFICATIONS_LANGUAGE = "zh-hans"
    with django_capture_on_commit_callbacks(execute=True):
        services.case_inspect(case=case, actor=world.grid_worker, passed=True)
    [email] = mailoutbox
    assert email.subject == f"案件 {case.number} 已结案"
    assert "经现场核查后结案" in email.body
    [text] = sms_outbox
    assert "已经现场核查并结案" in text.text and case.category.name in text.text

    row = outgoing(case, channel="email", kind="closure").get()
    assert rendering.render(row, "subject", "en") == f"Case {case.number} is closed"
    assert "checked on site and closed" in rendering.render(row, "body", "en")


def test_citizens_read_no_notes_reasons_or_names(
    world, mailoutbox, sms_outbox, django_capture_on_commit_callbacks
):
    world.dispatcher.display_name = "王调度"
    world.dispatcher.save()
    secret = "内部: 举报人多次投诉"
    rejected = tip(world)
    handled = tip(world)
    with django_capture_on_commit_callbacks(execute=True):
        services.case_reject(case=rejected, actor=world.dispatcher, reason=secret)
        services.case_register(case=handled, actor=world.dispatcher, note=secret)
        services.case_dispatch(case=handled, actor=world.dispatcher, note=secret)
        services.case_acknowledge(case=handled, actor=world.handler, reason=secret)
        services.case_report_back(case=handled, actor=world.handler, note=secret, photos=[jpeg()])
    assert len(mailoutbox) == 4 and len(sms_outbox) == 4
    everything = [m.subject + m.body for m in mailoutbox] + [t.text for t in sms_outbox]
    for text in everything:
        assert secret not in text
        assert "王调度" not in text and world.handler.display_name not in text
        assert world.cgj.name not in text  # not which department either
        assert "张三" not in text
    assert any("was not taken up" in text for text in everything)


def test_only_the_reporter_gets_the_tracking_link(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    original = tip(world)
    duplicate = tip(world, reporter_email="li@example.com", reporter_phone="")
    services.case_merge(case=duplicate, actor=world.dispatcher, original=original)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.case_register(case=original, actor=world.dispatcher)
    by_address = {m.to[0]: m.body for m in mailoutbox}
    assert original.tracking_token in by_address[EMAIL]
    assert original.tracking_token not in by_address["li@example.com"]
    assert duplicate.tracking_token not in by_address["li@example.com"]
    assert original.number in by_address["li@example.com"]


def test_staff_email_by_setting_in_chinese_with_the_cases_details(
    world, settings, mailoutbox, sms_outbox, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_LANGUAGE = "zh-hans"
    settings.NOTIFICATIONS_CHANNELS = {"dispatch": {"handlers": ["inbox", "email", "sms"]}}
    world.handler.email = "handler@example.com"
    world.handler.phone = "13800001111"
    world.handler.save()
    case = case_in(world, Status.REGISTERED, address="和平路 12 号")
    with django_capture_on_commit_callbacks(execute=True):
        services.case_dispatch(case=case, actor=world.dispatcher)
    [email] = mailoutbox
    assert email.subject == f"案件 {case.number} 已派遣至本部门"
    assert f"案件编号：{case.number}" in email.body and "地址：和平路 12 号" in email.body
    assert f"类别：{case.category.name}" in email.body
    [text] = sms_outbox
    assert text.to == "13800001111"
    assert text.text == f"新派遣案件 {case.number}（{case.category.name}），请及时签收。"


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_kind_renders_in_both_languages(world, language, django_capture_on_commit_callbacks):
    """One notification of each kind, from real actions, rendered in full."""
    district_dispatcher = UserFactory(username="district_dispatcher")
    RoleMembership.objects.create(
        user=district_dispatcher, role=Role.DISPATCHER, area=world.city.district
    )
    case = tip(world, reporter=world.citizen)
    services.case_send_to_verify(case=case, actor=world.dispatcher)
    services.case_verify(case=case, actor=world.grid_worker, passed=True, photos=[jpeg()])
    services.case_register(case=case, actor=world.dispatcher)
    services.case_dispatch(case=case, actor=world.dispatcher)
    services.case_return(case=case, actor=world.handler, reason="不属于本部门")
    services.case_dispatch(case=case, actor=world.dispatcher)
    services.case_issue_directive(
        case=case, actor=world.supervisor, kind="reminder", message="请尽快",
        due_at=timezone.now() + dt.timedelta(days=1),
    )  # fmt: skip
    services.case_issue_directive(
        case=case, actor=world.supervisor, kind="supervision", message="限期办结",
        due_at=timezone.now() + dt.timedelta(days=1),
    )  # fmt: skip
    services.case_acknowledge(case=case, actor=world.handler)
    services.case_report_back(case=case, actor=world.handler, note="好了", photos=[jpeg()])
    services.case_inspect(case=case, actor=world.grid_worker, passed=False, note="没修好")
    services.case_report_back(case=case, actor=world.handler, note="好了", photos=[jpeg()])
    services.case_inspect(case=case, actor=world.grid_worker, passed=True)
    services.case_rate(
        case=case, actor=world.citizen, satisfaction="unsatisfied", comment="井盖还是松的"
    )
    other = case_in(world, Status.REGISTERED)
    services.case_escalate(case=other, actor=world.dispatcher, reason="跨区")
    now = timezone.now()
    yellow, red = case_in(world, Status.IN_PROGRESS), case_in(world, Status.IN_PROGRESS)
    Case.objects.filter(pk=yellow.pk).update(yellow_at=now - dt.timedelta(hours=1))
    Case.objects.filter(pk=red.pk).update(due_at=now - dt.timedelta(minutes=1))
    late = services.case_issue_directive(
        case=red, actor=world.supervisor, kind="reminder", message="请尽快",
        due_at=now + dt.timedelta(hours=1),
    )  # fmt: skip
    CaseDirective.objects.filter(pk=late.pk).update(due_at=now - dt.timedelta(minutes=5))
    sweep.sla_sweep(now=now)
    notify_provisional_calendar(today=dt.date(2026, 10, 1))  # about no case

    seen = set()
    for notification in Notification.objects.select_related("case__category", "event"):
        seen.add(notification.kind)
        subject = rendering.render(notification, "subject", language)
        short = rendering.render(notification, "short", language)
        body = rendering.render(notification, "body", language)
        for text in (subject, short, body):
            assert text.strip() and "{{" not in text and "{%" not in text
        assert bool(CJK.search(subject)) == (language == "zh-hans")
        assert "\n" not in subject and "\n" not in short
        if notification.kind == Kind.CALENDAR:
            assert str(notification.created_at.year + 1) in subject
        elif notification.is_digest:
            assert str(notification.count) in subject
            assert notification.link.startswith("/api/v1/cases/?")
            assert short.endswith(notification.link) and notification.link in body
        else:
            assert notification.case.number in subject
    assert seen == set(Kind.values)


# --- Failures, retries and the catch-up -----------------------------------------------------


def test_a_failed_sms_is_retried_a_bounded_number_of_times(
    world, settings, mailoutbox, sms_outbox, django_capture_on_commit_callbacks, caplog
):
    settings.NOTIFICATIONS_SMS_BACKEND = f"{__name__}.FailingBackend"
    with caplog.at_level(logging.WARNING, logger="notifications.delivery"):
        case = registered_tip(world, django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 1  # the email went; the SMS did not
    row = outgoing(case, channel="sms").get()
    assert row.sent_at is None and row.attempts == 1
    assert row.last_error == "ConnectionError: SMS gateway unreachable"
    assert "failed (attempt 1)" in caplog.text

    start = row.created_at
    # Not again before the pause is over.
    assert delivery.deliver_overdue(now=start + dt.timedelta(seconds=120)).failed == 0
    for attempt in range(2, settings.NOTIFICATIONS_MAX_ATTEMPTS + 1):
        result = delivery.deliver_overdue(now=start + dt.timedelta(minutes=6 * attempt))
        assert (result.sent, result.failed) == (0, 1)
        assert outgoing(case, channel="sms").get().attempts == attempt
    # Given up: never tried again.
    later = start + dt.timedelta(hours=3)
    assert delivery.deliver_overdue(now=later).failed == 0
    assert outgoing(case, channel="sms").get().attempts == settings.NOTIFICATIONS_MAX_ATTEMPTS
    assert len(mailoutbox) == 1  # the email was not sent again meanwhile


def test_a_failed_sms_is_sent_when_the_gateway_is_back(
    world, settings, sms_outbox, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_SMS_BACKEND = f"{__name__}.FailingBackend"
    case = registered_tip(world, django_capture_on_commit_callbacks)
    settings.NOTIFICATIONS_SMS_BACKEND = "notifications.sms.LocmemBackend"
    row = outgoing(case, channel="sms").get()
    result = delivery.deliver_overdue(now=row.created_at + dt.timedelta(minutes=6))
    assert (result.sent, result.failed) == (1, 0)
    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 2 and row.last_error == ""
    assert len(sms_outbox) == 1


def test_the_catch_up_sends_what_was_not_queued_once(
    world, settings, monkeypatch, mailoutbox, sms_outbox, django_capture_on_commit_callbacks, caplog
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.deliver, "delay", broker_down)
    with caplog.at_level(logging.ERROR, logger="notifications.services"):
        case = registered_tip(world, django_capture_on_commit_callbacks)
    assert "could not queue delivery" in caplog.text
    assert mailoutbox == [] and sms_outbox == []
    created = outgoing(case).first().created_at

    # The task queued at commit gets a minute before the catch-up steps in.
    assert delivery.deliver_overdue(now=created + dt.timedelta(seconds=30)).sent == 0
    settings.NOTIFICATIONS_QUEUE_GRACE = 0  # the minute has passed
    result = tasks.deliver_catch_up.apply().get()
    assert result == {"sent": 2, "failed": 0}
    assert len(mailoutbox) == 1 and len(sms_outbox) == 1
    assert tasks.deliver_catch_up.apply().get() == {"sent": 0, "failed": 0}
    assert len(mailoutbox) == 1 and len(sms_outbox) == 1


def test_the_catch_up_leaves_news_that_is_too_old(
    world, settings, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(tasks.deliver, "delay", lambda ids: None)  # lost
    case = registered_tip(world, django_capture_on_commit_callbacks)
    created = outgoing(case).first().created_at
    window = dt.timedelta(seconds=settings.NOTIFICATIONS_DELIVERY_WINDOW)
    assert delivery.deliver_overdue(now=created + window + dt.timedelta(minutes=1)).sent == 0
    assert mailoutbox == [] and not outgoing(case, sent_at__isnull=False).exists()


def test_delivering_twice_sends_once(
    world, mailoutbox, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(tasks.deliver, "delay", lambda ids: None)
    case = registered_tip(world, django_capture_on_commit_callbacks)
    ids = list(outgoing(case).values_list("pk", flat=True))
    assert tasks.deliver.apply(args=[ids]).get() == {"sent": 2, "failed": 0}
    assert tasks.deliver.apply(args=[ids]).get() == {"sent": 0, "failed": 0}
    assert len(mailoutbox) == 1


def test_the_console_backends_print_what_they_send(
    world, settings, capsys, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    settings.NOTIFICATIONS_SMS_BACKEND = "notifications.sms.ConsoleBackend"
    case = registered_tip(world, django_capture_on_commit_callbacks)
    printed = capsys.readouterr().out
    assert f"Subject: Your report {case.number} was accepted" in printed
    assert f"SMS to {PHONE}: Your report {case.number} was accepted as a case." in printed
    assert outgoing(case, sent_at__isnull=True).count() == 0


def test_the_catch_up_runs_on_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["notifications-delivery-catch-up"]
    assert entry["task"] == tasks.deliver_catch_up.name
    assert 0 < entry["schedule"] <= 600
