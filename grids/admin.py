from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from leaflet.admin import LeafletGeoAdmin

from .models import Area, GridAssignment


class ChildrenInline(admin.TabularInline):
    model = Area
    fk_name = "parent"
    fields = ("code", "name", "name_en", "level")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("children")

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("boundary")


@admin.register(Area)
class AreaAdmin(LeafletGeoAdmin):
    list_display = ("code", "name", "name_en", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name", "name_en")
    ordering = ("code",)
    list_select_related = ("parent",)
    list_per_page = 100
    show_full_result_count = False
    autocomplete_fields = ("parent",)
    readonly_fields = ("path", "created_at", "updated_at")
    fields = ("level", "code", "name", "name_en", "parent", "boundary", *readonly_fields)
    inlines = (ChildrenInline,)
    settings_overrides = {"DEFAULT_ZOOM": 12}

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name.endswith("changelist"):
            # The list shows no maps: leave the boundaries in the database.
            queryset = queryset.defer("boundary", "parent__boundary")
        return queryset


@admin.register(GridAssignment)
class GridAssignmentAdmin(admin.ModelAdmin):
    list_display = ("grid", "user", "start_date", "end_date")
    list_filter = ("start_date", "end_date")
    search_fields = ("grid__code", "grid__name", "user__username", "user__display_name")
    autocomplete_fields = ("user", "grid")
    list_select_related = ("grid", "user")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("grid__boundary")
