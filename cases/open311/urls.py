"""Open311 GeoReport v2 under /open311/v2/: every resource ends in .xml or
.json; an unknown extension or path is a 404 error array."""

from django.urls import path, re_path

from . import views

app_name = "open311"

FMT = r"(?P<fmt>[A-Za-z0-9]+)"
CODE = r"(?P<service_code>[A-Za-z0-9_-]{1,40})"

urlpatterns = [
    path("", views.NotFound.as_view(), name="root"),
    re_path(rf"^discovery\.{FMT}$", views.Discovery.as_view(), name="discovery"),
    re_path(rf"^services\.{FMT}$", views.ServiceList.as_view(), name="services"),
    re_path(rf"^services/{CODE}\.{FMT}$", views.ServiceDefinition.as_view(), name="service"),
    re_path(rf"^requests\.{FMT}$", views.Requests.as_view(), name="requests"),
    re_path(
        rf"^requests/(?P<service_request_id>[A-Za-z0-9_-]{{1,40}})\.{FMT}$",
        views.RequestDetail.as_view(),
        name="request",
    ),
    re_path(
        rf"^tokens/(?P<token>[A-Za-z0-9_-]{{1,100}})\.{FMT}$", views.Token.as_view(), name="token"
    ),
    re_path(r"^.*$", views.NotFound.as_view(), name="not-found"),
]
