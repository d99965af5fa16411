"""Root URLs."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from . import views

admin.site.site_header = views.SITE_TITLE
admin.site.site_title = views.SITE_TITLE

urlpatterns = [
    path("healthz", views.health, name="health"),
    # Language follows the browser (Accept-Language) or the choice saved here.
    path("i18n/", include("django.conf.urls.i18n")),
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
