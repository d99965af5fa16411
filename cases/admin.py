from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdmin

from .holidays import calendar_year_edited
from .models import (
    ApiClient,
    CalendarDay,
    CalendarYear,
    Case,
    CaseAttachment,
    CaseDirective,
    CaseEvent,
    Category,
    CategoryAttribute,
    CategoryClass,
    OverduePolicy,
    RoutingRule,
    SlaRule,
    WorkingPeriod,
)


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 0
    ordering = ("date",)


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    list_display = ("year", "source", "provisional", "loaded_at")
    list_filter = ("source",)
    readonly_fields = ("source", "loaded_at")
    inlines = (CalendarDayInline,)

    @admin.display(boolean=True, description=_("provisional"), ordering="source")
    def provisional(self, obj: CalendarYear) -> bool:
        return obj.is_provisional

    def save_model(self, request, obj, form, change):
        # A year added here is the administrator's from the start.
        if not change:
            obj.source = CalendarYear.Source.MANUAL
        super().save_model(request, obj, form, change)

    def get_readonly_fields(self, request, obj=None):
        # A year's number is its identity: its days belong to it.
        return ("year", *self.readonly_fields) if obj else self.readonly_fields

    def save_related(self, request, form, formsets, change):
        # A year whose days were edited here is no longer a package's or a
        # provisional one: no automatic load replaces it (cases.holidays),
        # and the open deadlines running through it are placed again.
        super().save_related(request, form, formsets, change)
        if change and any(formset.has_changed() for formset in formsets):
            calendar_year_edited(year=form.instance.pk)


@admin.register(WorkingPeriod)
class WorkingPeriodAdmin(admin.ModelAdmin):
    list_display = ("start", "end")


# --- Categories, deadlines, routing ------------------------------------------------


class SlaRuleInline(admin.TabularInline):
    model = SlaRule
    extra = 0
    fields = ("stage", "urgency", "amount", "unit")


class RoutingRuleInline(admin.TabularInline):
    model = RoutingRule
    extra = 0
    autocomplete_fields = ("area", "department")


class CategoryAttributeInline(admin.StackedInline):
    model = CategoryAttribute
    extra = 0
    fields = (
        ("code", "datatype", "required", "variable", "order"),
        ("description", "description_en"),
        "datatype_description",
        "values",
    )


@admin.register(CategoryClass)
class CategoryClassAdmin(admin.ModelAdmin):
    list_display = ("__str__", "family", "code", "name", "name_en")
    list_filter = ("family",)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "name_en",
        "major",
        "default_department",
        "default_urgency",
        "citizen_visible",
        "is_active",
    )
    list_filter = ("major__family", "major", "default_urgency", "citizen_visible", "is_active")
    search_fields = ("code", "name", "name_en")
    autocomplete_fields = ("default_department",)
    list_select_related = ("major", "default_department")
    readonly_fields = ("code",)
    inlines = (SlaRuleInline, RoutingRuleInline, CategoryAttributeInline)


@admin.register(SlaRule)
class SlaRuleAdmin(admin.ModelAdmin):
    list_display = ("__str__", "category", "urgency", "stage", "amount", "unit")
    list_filter = ("stage", "unit", "urgency")
    search_fields = ("category__code", "category__name")
    autocomplete_fields = ("category",)
    list_select_related = ("category",)


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ("category", "area", "department")
    search_fields = ("category__code", "category__name", "area__code", "department__name")
    autocomplete_fields = ("category", "area", "department")
    list_select_related = ("category", "area", "department")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("area__boundary")


@admin.register(OverduePolicy)
class OverduePolicyAdmin(admin.ModelAdmin):
    list_display = ("stage", "on_red", "order_working_hours")


# --- Cases: read-only, with their history -------------------------------------------


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CaseEventInline(ReadOnlyInline):
    model = CaseEvent
    fields = ("id", "created_at", "action", "actor", "actor_role", "from_status", "to_status",
              "payload")  # fmt: skip
    ordering = ("id",)


class CaseAttachmentInline(ReadOnlyInline):
    model = CaseAttachment
    fields = ("kind", "photo", "uploaded_by", "created_at")
    readonly_fields = ("photo",)

    @admin.display(description=_("photo"))
    def photo(self, attachment):
        # Through the access-checked URL: stored files are not served by name.
        url = reverse("photo-file", kwargs={"pk": attachment.pk, "variant": "original"})
        return format_html('<a href="{}">{}</a>', url, attachment.file.name)


class CaseDirectiveInline(ReadOnlyInline):
    model = CaseDirective
    fields = ("kind", "issued_by", "message", "due_at", "overdue_at", "settled_at")


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    """Cases are worked through the workflow, never edited here: every change
    must go through a service so that it is checked and recorded."""

    list_display = ("number", "status", "category", "department", "light", "due_at", "created_at")
    list_filter = ("status", "light", "source", "urgency", "is_supervised")
    search_fields = ("number", "description", "address")
    date_hierarchy = "created_at"
    list_select_related = ("category", "department")
    inlines = (CaseEventInline, CaseAttachmentInline, CaseDirectiveInline)
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("category", "department")


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "case", "action", "actor", "actor_role", "from_status", "to_status",
                    "created_at")  # fmt: skip
    list_filter = ("action",)
    search_fields = ("case__number",)
    list_select_related = ("case", "actor")
    show_full_result_count = False


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """Open311 clients: each posts citizen reports with its own api_key."""

    list_display = ("name", "contact_email", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "contact_email")
    readonly_fields = ("api_key", "created_at")
