"""My cases, and the verify (核实) and inspect (核查) tasks on site."""

from django.urls import path

from . import case_pages

urlpatterns = [
    path("cases/", case_pages.my_cases, name="cases"),
    path("cases/<int:pk>/", case_pages.case_page, name="case"),
    path("cases/<int:pk>/<slug:kind>/", case_pages.check, name="check"),
]
