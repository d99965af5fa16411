"""The project's URLs, with the field app's home and report pages stood in
for while this branch has none: the field frame (templates/field/base.html)
links to them. Used only when ``field:home`` does not resolve
(``frame_urls_needed``), so once the real pages exist it is never used."""

from django.http import HttpResponse
from django.urls import include, path

import field.urls
from governance.urls import urlpatterns as project


def _stand_in(request):
    return HttpResponse(b"", content_type="text/plain")


_FIELD = [
    path("", _stand_in, name="home"),
    path("report/", _stand_in, name="report"),
    *field.urls.urlpatterns,
]
urlpatterns = [
    path("field/", include((_FIELD, "field")))
    if getattr(p, "pattern", None) and str(p.pattern) == "field/"
    else p
    for p in project
]


def frame_urls_needed() -> bool:
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("field:home")
        reverse("field:report")
    except NoReverseMatch:
        return True
    return False
