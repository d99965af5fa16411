"""Root URLs."""

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from notifications.views import workbench

from . import views

handler400 = "governance.views.bad_request"
handler403 = "governance.views.permission_denied"
handler404 = "governance.views.not_found"
handler500 = "governance.views.server_error"

admin.site.site_header = views.SITE_TITLE
admin.site.site_title = views.SITE_TITLE

urlpatterns = [
    path("healthz", views.health, name="health"),
    # Language follows the browser (Accept-Language) or the choice saved here.
    path("i18n/", include("django.conf.urls.i18n")),
    path("", views.home, name="home"),
    path("workbench/", workbench, name="workbench"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("cases.api.urls")),
    path("api/v1/", include("grids.api.urls")),
    path("api/v1/", include("notifications.api.urls")),
    path("open311/v2/", include("cases.open311.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]

if settings.SERVE_MEDIA and not urlsplit(settings.MEDIA_URL).netloc:
    # django.conf.urls.static.static() serves only under DEBUG.
    urlpatterns.append(
        re_path(
            rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.*)$",
            serve,
            {"document_root": settings.MEDIA_ROOT},
        )
    )
