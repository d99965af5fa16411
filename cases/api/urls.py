from django.urls import path
from rest_framework.routers import SimpleRouter

from . import calendar, events, photo_files, reference, tips, views

router = SimpleRouter()
router.register("cases", views.CaseViewSet, basename="case")

urlpatterns = [
    *router.urls,
    path("events/", events.EventList.as_view(), name="event-list"),
    path("categories/", reference.CategoryList.as_view(), name="category-list"),
    path("departments/", reference.DepartmentList.as_view(), name="department-list"),
    path("calendar/years/", calendar.CalendarYearList.as_view(), name="calendar-year-list"),
    path(
        "calendar/years/<int:year>/",
        calendar.CalendarYearDetail.as_view(),
        name="calendar-year-detail",
    ),
    path("tips/", tips.TipCreate.as_view(), name="tip-create"),
    path("tips/<slug:token>/", tips.TipStatus.as_view(), name="tip-status"),
    path("tips/<slug:token>/rate/", tips.TipRate.as_view(), name="tip-rate"),
    path("photos/hints/", tips.PhotoHints.as_view(), name="photo-hints"),
    path(
        "photos/<int:pk>/<str:variant>/",
        photo_files.PhotoFileView.as_view(),
        name="photo-file",
    ),
]
