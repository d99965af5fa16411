"""/field/: the app shell and reporting (urls_reporting), and the worker's
cases and on-site tasks (urls_tasks)."""

from django.urls import include, path

app_name = "field"

urlpatterns = [
    path("", include("field.urls_reporting")),
    path("", include("field.urls_tasks")),
]
