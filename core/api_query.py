"""Reading an API view's query string."""

from __future__ import annotations

from django_filters.utils import translate_validation
from rest_framework import exceptions


def valid_query(serializer_class, request) -> dict:
    """The query string checked by ``serializer_class`` (400 when it is not).

    A list field takes every value of its repeated parameter; any other field
    the last one. The values go in as a plain dict, not the QueryDict: DRF
    reads a blank value in a QueryDict as "not given" (HTML form semantics),
    where ``?level=`` is a mistake to report."""
    params = request.query_params
    lists = {name for name, field in serializer_class().fields.items() if hasattr(field, "child")}
    data = {key: params.getlist(key) if key in lists else params.get(key) for key in params}
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def valid_filters(request, *, filterset_class, queryset, serializer_class) -> tuple:
    """``queryset`` filtered by ``filterset_class``, and the rest of the query
    string checked by ``serializer_class`` (paging, rendering options): one
    400 naming every bad parameter of either."""
    filterset = filterset_class(request.query_params, queryset=queryset, request=request)
    errors = {} if filterset.is_valid() else translate_validation(filterset.errors).detail
    try:
        params = valid_query(serializer_class, request)
    except exceptions.ValidationError as exc:
        errors = {**errors, **exc.detail}
    if errors:
        raise exceptions.ValidationError(errors)
    return filterset.qs, params
