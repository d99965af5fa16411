"""Events since N: what a client missed while it was not connected.

The same messages the live push sends (cases.publishing.event_message), for
the groups the user follows, oldest first. See docs/events.md.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_query import valid_query

from .. import audience
from ..selectors import EVENT_PAGE, events_since

DEFAULT_LIMIT = EVENT_PAGE
MAX_LIMIT = 1000
MAX_GROUPS = 200


class EventsQuery(serializers.Serializer):
    since = serializers.IntegerField(min_value=0, max_value=2**63 - 1)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)
    group = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=MAX_GROUPS
    )

    def validate_group(self, value):
        wrong = [name for name in value if audience.parse_group(name) is None]
        if wrong:
            raise serializers.ValidationError(
                _("Not a group name: %(names)s.") % {"names": ", ".join(wrong[:5])}
            )
        return list(dict.fromkeys(value))


class CaseEventMessageSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["case.event"])
    version = serializers.IntegerField()
    id = serializers.IntegerField()
    action = serializers.CharField()
    at = serializers.DateTimeField()
    actor_id = serializers.IntegerField(allow_null=True)
    from_status = serializers.CharField(allow_blank=True)
    to_status = serializers.CharField()
    case_id = serializers.IntegerField()
    case_number = serializers.CharField()
    case_version = serializers.IntegerField()
    status = serializers.CharField()
    light = serializers.CharField()
    due_at = serializers.DateTimeField(allow_null=True)
    department_id = serializers.IntegerField(allow_null=True)
    command_level = serializers.IntegerField()
    grid_id = serializers.IntegerField()
    area_path = serializers.CharField()


class EventPageSerializer(serializers.Serializer):
    events = CaseEventMessageSerializer(many=True)
    last_id = serializers.IntegerField()
    has_more = serializers.BooleanField()


class EventList(APIView):
    """Case events after ``since`` for the groups given (by default the user's
    standing groups), oldest first. Case fields are the case as it is now."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            EventsQuery,
            OpenApiParameter(
                "group", str, many=True, explode=True, description="A group to resync."
            ),
        ],
        responses=EventPageSerializer,
    )
    def get(self, request):
        query = valid_query(EventsQuery, request)
        groups = query.get("group")
        if groups:
            refused = audience.refused(request.user, groups)
            if refused:
                raise PermissionDenied(
                    _("You may not follow %(groups)s.") % {"groups": ", ".join(refused[:5])}
                )
        else:
            groups = audience.standing_groups(request.user)
        return Response(events_since(since=query["since"], groups=groups, limit=query["limit"]))
