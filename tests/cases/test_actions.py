"""The registry of workflow actions (``cases.actions``) is what the policy,
the API and the services use: each action it lists has its endpoint, its
serializer and service exist, and the event an action records is the one the
registry names."""

from __future__ import annotations

import inspect

import pytest

from cases import policy, services
from cases.actions import ACTIONS
from cases.api.views import CaseViewSet
from cases.models import Case, CaseEvent, Status
from tests.cases.conftest import report

db = pytest.mark.django_db


def test_every_action_has_its_named_endpoint_and_nothing_else_posts_to_a_case():
    routed = {
        name: getattr(CaseViewSet, name) for name in dir(CaseViewSet) if name.startswith("action_")
    }

    assert list(routed) == sorted(f"action_{name}" for name in ACTIONS)
    for name, workflow in ACTIONS.items():
        view = routed[f"action_{name}"]
        assert view.url_path == workflow.url_path
        assert view.mapping == {"post": f"action_{name}"}


def test_the_policy_reads_roles_and_transitions_from_the_registry():
    assert tuple(ACTIONS) == policy.ACTIONS
    for name, workflow in ACTIONS.items():
        assert policy.ACTION_ROLES[name] == workflow.roles
        assert callable(getattr(Case, workflow.transition))


@pytest.mark.parametrize("name", list(ACTIONS))
def test_each_action_names_a_service_that_takes_its_input(name):
    workflow = ACTIONS[name]
    service = workflow.service_function
    fields = set(workflow.input_class().fields)

    assert service is getattr(services, workflow.service.rsplit(".", 1)[1])
    parameters = inspect.signature(service).parameters
    assert set(workflow.arguments(dict.fromkeys(fields))) <= set(parameters), name


def test_arguments_rename_and_fix_what_the_service_expects():
    assert ACTIONS["acknowledge"].arguments({"note": "到场"}) == {"reason": "到场"}
    assert ACTIONS["deny_extension"].arguments({"note": ""}) == {"note": "", "approve": False}


@db
def test_an_action_taken_through_the_registry_records_the_event_it_names(world):
    case = report(world)

    ACTIONS["register"].run(case=case.pk, actor=world.dispatcher, data={"note": "立案"})
    ACTIONS["reject"].run(
        case=report(world).pk, actor=world.dispatcher, data={"reason": "重复上报"}
    )

    case.refresh_from_db()
    assert case.status == Status.REGISTERED
    assert CaseEvent.objects.filter(case=case).latest("id").action == ACTIONS["register"].event
    assert CaseEvent.objects.latest("id").action == ACTIONS["reject"].event == "rejected"
