"""Home, the report flow, the web app manifest and the service worker."""

urlpatterns: list = []
