"""The admin shows notifications and changes none."""

import pytest
from django.urls import reverse

from cases.models import Status
from notifications.models import Notification
from tests.cases.conftest import case_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_notifications_are_listed_searched_and_shown_read_only(admin_client, world):
    case = case_in(world, Status.DISPATCHED)
    notification = Notification.objects.get(case=case)
    changelist = reverse("admin:notifications_notification_changelist")
    page = admin_client.get(changelist, {"q": case.number})
    assert page.status_code == 200 and case.number in page.content.decode()
    assert admin_client.get(changelist, {"channel__exact": "sms"}).status_code == 200

    change = reverse("admin:notifications_notification_change", args=[notification.pk])
    page = admin_client.get(change)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin_client.post(change, {"channel": "sms"}).status_code == 403
    assert admin_client.get(reverse("admin:notifications_notification_add")).status_code == 403
    delete = reverse("admin:notifications_notification_delete", args=[notification.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Notification.objects.get(pk=notification.pk).channel == "inbox"


def test_a_sweep_digest_is_shown_read_only_with_its_count_and_link(admin_client, world):
    import datetime as dt

    from django.utils import timezone

    from cases import sweep
    from cases.models import Case

    case = case_in(world, Status.IN_PROGRESS)
    Case.objects.filter(pk=case.pk).update(due_at=timezone.now() - dt.timedelta(minutes=1))
    sweep.sla_sweep()
    digest = Notification.objects.get(recipient=world.handler, kind="red")

    changelist = reverse("admin:notifications_notification_changelist")
    assert admin_client.get(changelist, {"kind__exact": "red"}).status_code == 200
    change = reverse("admin:notifications_notification_change", args=[digest.pk])
    page = admin_client.get(change).content.decode()
    assert "/api/v1/cases/?light=red" in page and 'name="_save"' not in page
    assert admin_client.post(change, {"count": "9"}).status_code == 403
    assert Notification.objects.get(pk=digest.pk).count == 1
