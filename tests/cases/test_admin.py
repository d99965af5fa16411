"""The admin: configuration is editable by admins; cases and events are read-only."""

import pytest
from django.urls import reverse

from cases.models import Case, CaseEvent, Category, OverduePolicy, RoutingRule, SlaRule
from tests.cases.conftest import case_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", [Category, SlaRule, RoutingRule, OverduePolicy, Case, CaseEvent])
def test_every_list_opens(admin_client, world, model):
    case_in(world, "dispatched")
    url = reverse(f"admin:cases_{model._meta.model_name}_changelist")
    assert admin_client.get(url).status_code == 200


def test_a_category_can_be_edited_with_its_deadline_rules(admin_client, world):
    url = reverse("admin:cases_category_change", args=[world.category.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "sla_rules-TOTAL_FORMS" in page.content.decode()


def test_a_case_shows_its_timeline_and_cannot_be_changed(admin_client, world):
    case = case_in(world, "in_progress")
    url = reverse("admin:cases_case_change", args=[case.pk])
    page = admin_client.get(url).content.decode()
    for action in ("reported", "registered", "dispatched", "acknowledged"):
        assert action in page
    assert admin_client.post(url, {"description": "changed"}).status_code == 403
    assert Case.objects.get(pk=case.pk).description == case.description
    delete = reverse("admin:cases_case_delete", args=[case.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Case.objects.filter(pk=case.pk).exists()


def test_a_case_links_its_photos_through_the_checked_url(admin_client, world):
    case = case_in(world, "handled")
    (photo,) = case.attachments.all()
    page = admin_client.get(reverse("admin:cases_case_change", args=[case.pk])).content.decode()

    url = f"/api/v1/photos/{photo.pk}/original/"
    assert f'href="{url}"' in page
    assert admin_client.get(url).status_code == 200


def test_people_who_are_not_staff_are_sent_to_log_in(client, world):
    client.force_login(world.dispatcher)
    response = client.get(reverse("admin:cases_case_changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_sweep_is_scheduled_and_registered():
    from django.conf import settings

    from governance.celery import app

    app.loader.import_default_modules()
    task = settings.CELERY_BEAT_SCHEDULE["cases-deadline-sweep"]["task"]
    assert task == "cases.tasks.sla_sweep"
    assert task in app.tasks
    cleanup = settings.CELERY_BEAT_SCHEDULE["cases-photo-orphan-cleanup"]["task"]
    assert cleanup in app.tasks
