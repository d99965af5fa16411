"""Reference lists the clients need to fill their forms."""

from __future__ import annotations

from rest_framework import generics, serializers

from core.api_serializers import ModelSerializer
from organisation.models import Department

from ..models import Category


class CategorySerializer(ModelSerializer):
    family = serializers.CharField(source="major.family")
    major = serializers.CharField(source="major.name")
    major_en = serializers.CharField(source="major.name_en")
    default_department = serializers.CharField(source="default_department.code", allow_null=True)

    class Meta:
        model = Category
        fields = [
            "code", "name", "name_en", "family", "major", "major_en", "default_urgency",
            "default_department", "citizen_visible",
        ]  # fmt: skip


class CategoryList(generics.ListAPIView):
    """Active categories (GB/T 30428.2), by code."""

    serializer_class = CategorySerializer
    pagination_class = None
    queryset = Category.objects.active().select_related("major", "default_department")


class DepartmentSerializer(ModelSerializer):
    jurisdiction = serializers.CharField(source="jurisdiction.code")

    class Meta:
        model = Department
        fields = ["code", "name", "name_en", "jurisdiction"]


class DepartmentList(generics.ListAPIView):
    """Active departments, by code."""

    serializer_class = DepartmentSerializer
    pagination_class = None
    queryset = (
        Department.objects.filter(is_active=True)
        .select_related("jurisdiction")
        .defer("jurisdiction__boundary")
    )
