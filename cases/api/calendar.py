"""The working calendar, read-only: which years are known, from which source,
and each year's public holidays and make-up working days."""

from __future__ import annotations

from rest_framework import generics, permissions, serializers

from core.api_serializers import ModelSerializer
from organisation.models import Role

from ..models import CalendarDay, CalendarYear


class IsStaffMember(permissions.BasePermission):
    """Staff (the admin's users) and people with a role other than citizen."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user.is_authenticated:
            return False
        return user.is_staff or user.roles.exclude(role=Role.CITIZEN).exists()


class CalendarYearSerializer(ModelSerializer):
    provisional = serializers.BooleanField(
        source="is_provisional",
        read_only=True,
        help_text="Computed from the statutory holidays: the official schedule is not loaded yet.",
    )

    class Meta:
        model = CalendarYear
        fields = ["year", "source", "provisional", "loaded_at"]


class CalendarDaySerializer(ModelSerializer):
    class Meta:
        model = CalendarDay
        fields = ["date", "kind", "name"]


class CalendarYearDetailSerializer(CalendarYearSerializer):
    days = CalendarDaySerializer(many=True, read_only=True)

    class Meta(CalendarYearSerializer.Meta):
        fields = [*CalendarYearSerializer.Meta.fields, "days"]


class CalendarYearList(generics.ListAPIView):
    """Every calendar year, by year, with its source; ``provisional`` years
    count only the statutory holidays (docs/working-time.md)."""

    serializer_class = CalendarYearSerializer
    permission_classes = [IsStaffMember]
    pagination_class = None
    queryset = CalendarYear.objects.order_by("year")


class CalendarYearDetail(generics.RetrieveAPIView):
    """One calendar year with its public holidays and make-up working days."""

    serializer_class = CalendarYearDetailSerializer
    permission_classes = [IsStaffMember]
    queryset = CalendarYear.objects.prefetch_related("days")
    lookup_field = "year"
