"""The project's serializer bases hand each instance copies of fields built
once per class: the copies must be what DRF would build for the instance,
and bound to it alone."""

import pytest
from rest_framework import serializers

from cases.api import serializers as s

SERIALIZERS = [
    s.CaseCreateSerializer,
    s.CaseDetailSerializer,
    s.EventSerializer,
    s.AttachmentSerializer,
    s.ReportBackSerializer,
]


def _state(field) -> dict:
    """What a bound field holds, but the objects it is bound to (validators
    by their class and settings: some have no ``__eq__``)."""
    state = {
        k: v
        for k, v in vars(field).items()
        if k not in ("parent", "child", "_kwargs", "_creation_counter")
    }
    if "queryset" in state:  # RelatedField clones it on every use
        state["queryset"] = str(state["queryset"].query)
    if "_validators" in state:
        state["_validators"] = [
            (type(v), getattr(v, "limit_value", None), str(getattr(v, "message", "")))
            for v in state["_validators"]
        ]
    return state


@pytest.mark.parametrize("cls", SERIALIZERS, ids=lambda cls: cls.__name__)
def test_fields_are_those_drf_builds(cls):
    ours = cls().fields
    # DRF's own way: every field rebuilt from its arguments, then bound.
    stock = cls()
    base = serializers.ModelSerializer if hasattr(cls, "Meta") else serializers.Serializer
    built = base.get_fields(stock)
    assert list(ours) == list(built)
    for name, field in built.items():
        field.bind(field_name=name, parent=stock)
        assert type(ours[name]) is type(field), name
        assert _state(ours[name]) == _state(field), name
        if hasattr(field, "child"):
            assert _state(ours[name].child) == _state(field.child), name


@pytest.mark.parametrize("cls", SERIALIZERS, ids=lambda cls: cls.__name__)
def test_each_instance_has_fields_of_its_own_bound_to_it(cls):
    one, two = cls(context={"n": 1}), cls(context={"n": 2})
    for name in one.fields:
        a, b = one.fields[name], two.fields[name]
        assert a is not b and a.parent is one and b.parent is two
        assert a.context == {"n": 1} and b.context == {"n": 2}
        if hasattr(a, "child"):
            assert a.child is not b.child and a.child.parent is a
            assert a.child.context == {"n": 1}


def test_inputs_of_two_instances_do_not_mix():
    """A list field's child runs in its own instance (photos of one report
    never validate against another's)."""
    ok = s.CaseCreateSerializer(data={"description": "井盖缺失", "lng": 119.9, "lat": 31.7})
    bad = s.CaseCreateSerializer(data={"description": "x", "photos": ["not a file"]})
    assert not bad.is_valid() and "photos" in bad.errors
    assert ok.is_valid(), ok.errors and ok.validated_data["photos"] == []
