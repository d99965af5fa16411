from django.contrib import admin

from .models import CalendarDay, CalendarYear, WorkingPeriod


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 0
    ordering = ("date",)


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    list_display = ("year", "source", "loaded_at")
    list_filter = ("source",)
    inlines = (CalendarDayInline,)

    def save_model(self, request, obj, form, change):
        # A year edited here is no longer the package's: reloads keep it.
        obj.source = CalendarYear.Source.MANUAL
        super().save_model(request, obj, form, change)


@admin.register(WorkingPeriod)
class WorkingPeriodAdmin(admin.ModelAdmin):
    list_display = ("start", "end")
