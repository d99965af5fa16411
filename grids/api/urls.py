"""Areas as GeoJSON and point-to-grid lookup under /api/v1/."""

from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("areas", views.AreaViewSet, basename="area")

urlpatterns = router.urls
