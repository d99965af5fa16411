"""Text limits are declared once (``cases.limits``): the column, the API
field and the service's own check are the same number, and text one
character over it is refused by the service as well as by the API."""

from __future__ import annotations

import pytest

from cases import limits, services
from cases.api import serializers as s
from cases.errors import CaseInputError
from cases.models import Case, CaseDirective, CaseEvent, Source, Status
from tests.cases.conftest import IN_G1, report

db = pytest.mark.django_db


@pytest.mark.parametrize(
    ("model", "field", "limit"),
    [
        (Case, "description", limits.DESCRIPTION),
        (Case, "address", limits.ADDRESS),
        (Case, "reporter_name", limits.REPORTER_NAME),
        (Case, "reporter_phone", limits.REPORTER_PHONE),
        (Case, "media_url", limits.MEDIA_URL),
        (CaseDirective, "message", limits.NOTE),
    ],
)
def test_columns_take_their_length_from_the_limits(model, field, limit):
    assert model._meta.get_field(field).max_length == limit


@pytest.mark.parametrize(
    ("serializer", "field", "limit"),
    [
        (s.CaseCreateSerializer, "description", limits.DESCRIPTION),
        (s.CaseCreateSerializer, "address", limits.ADDRESS),
        (s.CaseCreateSerializer, "reporter_name", limits.REPORTER_NAME),
        (s.NoteSerializer, "note", limits.NOTE),
        (s.ReasonSerializer, "reason", limits.NOTE),
        (s.CommentSerializer, "text", limits.NOTE),
        (s.DirectiveInputSerializer, "message", limits.NOTE),
        (s.RateSerializer, "comment", limits.NOTE),
    ],
)
def test_api_fields_take_their_length_from_the_limits(serializer, field, limit):
    assert serializer().fields[field].max_length == limit


@db
def test_a_description_at_the_limit_is_taken_and_one_over_is_refused(world):
    def file(description):
        return services.case_report(
            reporter=world.grid_worker, source=Source.GRID_WORKER, description=description,
            lng=IN_G1[0], lat=IN_G1[1],
        )  # fmt: skip

    assert len(file("井" * limits.DESCRIPTION).description) == limits.DESCRIPTION
    with pytest.raises(CaseInputError) as refused:
        file("井" * (limits.DESCRIPTION + 1))
    assert refused.value.field == "description"


@db
def test_a_reason_over_the_limit_is_refused_and_changes_nothing(world):
    case = report(world)
    events = CaseEvent.objects.filter(case=case).count()

    with pytest.raises(CaseInputError) as refused:
        services.case_reject(case=case, actor=world.dispatcher, reason="x" * (limits.NOTE + 1))

    assert refused.value.field == "reason"
    case.refresh_from_db()
    assert case.status == Status.REPORTED
    assert CaseEvent.objects.filter(case=case).count() == events
    services.case_reject(case=case, actor=world.dispatcher, reason="x" * limits.NOTE)
    case.refresh_from_db()
    assert case.status == Status.REJECTED
