from django.urls import path
from rest_framework.routers import SimpleRouter

from . import reference, views

router = SimpleRouter()
router.register("cases", views.CaseViewSet, basename="case")

urlpatterns = [
    *router.urls,
    path("categories/", reference.CategoryList.as_view(), name="category-list"),
    path("departments/", reference.DepartmentList.as_view(), name="department-list"),
]
