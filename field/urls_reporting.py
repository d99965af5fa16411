"""Home, the report flow, the web app manifest and the service worker."""

from django.urls import path

from . import app, reporting

urlpatterns = [
    path("", reporting.home, name="home"),
    path("report/", reporting.report, name="report"),
    path("manifest.webmanifest", app.manifest, name="manifest"),
    path("icons/<int:size>-<str:purpose>.png", app.icon, name="icon"),
    path("sw.js", app.service_worker, name="service-worker"),
]
