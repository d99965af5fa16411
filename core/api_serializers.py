"""The project's bases for serializers: DRF's, made cheaper to instantiate."""

from __future__ import annotations

import copy

from rest_framework import serializers


def copied(fields: dict) -> dict:
    """Fields for one serializer instance from a prototype set.

    DRF deep-copies each field, which rebuilds it from its arguments. A
    field keeps no per-instance state but what ``bind`` sets on it, so a
    shallow copy serves, nested serializers included, as they build their
    own fields only when first used; a field or serializer with a child
    (lists, dicts, many=True) gets a copy of the child bound to it."""
    return {name: _copy(field) for name, field in fields.items()}


def _copy(field):
    if "fields" in field.__dict__:
        # A nested serializer whose own fields were built (and bound to it).
        return copy.deepcopy(field)
    # ``copy.copy``, without its trip through ``__reduce_ex__``.
    new = object.__new__(type(field))
    new.__dict__.update(field.__dict__)
    if "child" in new.__dict__:
        # A list or dict field: its own copy of the child, which its
        # __init__ bound to it (the rest of that binding is copied as is).
        new.child = _copy(field.child)
        new.child.parent = new
    return new


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer, with the fields built from the model once per
    class instead of once per instance.

    DRF introspects the model every time a serializer is made: once per
    response, and once per nested serializer built in a method field. Each
    instance here gets a copy of the first build (``copied``). Only for
    serializers whose ``get_fields`` depends on nothing but their class
    (Meta and declared fields), which is every one that does not override it.
    """

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            cls._built_fields = built
        return copied(built)


class Serializer(serializers.Serializer):
    """DRF's Serializer, with its declared fields copied as ``copied`` does."""

    def get_fields(self):
        return copied(self._declared_fields)
