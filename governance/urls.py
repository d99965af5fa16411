"""Root URLs."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from cases import citizen
from notifications.views import workbench
from organisation.sign_in import rate_limited

from . import views

handler400 = "governance.views.bad_request"
handler403 = "governance.views.permission_denied"
handler404 = "governance.views.not_found"
handler500 = "governance.views.server_error"

admin.site.site_header = views.SITE_TITLE
admin.site.site_title = views.SITE_TITLE

urlpatterns = [
    path("healthz", views.health, name="health"),
    path("favicon.ico", views.favicon),
    # Language follows the browser (Accept-Language) or the choice saved here.
    path("i18n/", include("django.conf.urls.i18n")),
    path("", views.home, name="home"),
    path("workbench/", workbench, name="workbench"),
    # The citizen's pages (随手拍), no account: report, receipt, tracking.
    path("report/", citizen.report, name="citizen-report"),
    path("report/sent/<str:token>/", citizen.sent, name="citizen-sent"),
    path("track/<str:token>/", citizen.track, name="citizen-track"),
    # The grid worker's phone app.
    path("field/", include("field.urls")),
    path("accounts/login/", rate_limited(views.SignIn.as_view()), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The admin's own sign-in view, under the same per-address rate as the site's.
    path("admin/login/", rate_limited(admin.site.login)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("cases.api.urls")),
    path("api/v1/", include("grids.api.urls")),
    path("api/v1/", include("notifications.api.urls")),
    path("open311/v2/", include("cases.open311.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]
# Uploaded files are not served by their storage names, even with DEBUG: case
# photos go through /api/v1/photos/<id>/<variant>/, which checks who asks.
