"""REST API of the signed-in user's inbox. Views are thin: they check input,
call one selector or service, and render. Another user's notification does
not exist for the caller (404)."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from cases.api.inputs import valid_input

from .. import selectors, services
from ..models import Notification
from . import serializers as s
from .filters import InboxFilter


class InboxPagination(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = ("-created_at", "-id")


class NotificationViewSet(viewsets.GenericViewSet):
    """The signed-in user's notifications (inbox), newest first."""

    serializer_class = s.NotificationSerializer
    queryset = Notification.objects.none()  # for the schema (integer ids); see list
    pagination_class = InboxPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = InboxFilter
    lookup_value_regex = r"[0-9]+"

    @extend_schema(responses=s.NotificationSerializer(many=True))
    def list(self, request):
        """Your notifications, newest first; ``?unread=true`` for the unread ones."""
        queryset = selectors.with_display(self.filter_queryset(selectors.inbox_of(request.user)))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.NotificationSerializer(page, many=True).data)

    @extend_schema(request=None, responses=s.NotificationSerializer)
    @action(detail=True, methods=["post"], url_path="read")
    def read(self, request, pk=None):
        """Mark one notification read (again: it keeps the time it was first read)."""
        notification = services.notification_mark_read(user=request.user, notification_id=int(pk))
        return Response(s.NotificationSerializer(notification).data)

    @extend_schema(responses=s.UnreadCountSerializer)
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request):
        """How many of your notifications are unread (the badge)."""
        return Response({"unread_count": selectors.unread_count(request.user)})

    @extend_schema(request=s.ReadAllInputSerializer, responses=s.ReadAllResultSerializer)
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        """Mark all your notifications read, or those up to ``up_to``."""
        data = valid_input(s.ReadAllInputSerializer, request)
        marked = services.notifications_mark_all_read(user=request.user, up_to=data["up_to"])
        return Response({"marked": marked, "unread_count": selectors.unread_count(request.user)})
