from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Department, RoleMembership, User
from .sign_in import sign_in_unlock


class RoleMembershipInline(admin.TabularInline):
    model = RoleMembership
    extra = 0
    autocomplete_fields = ("area", "department")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Contact"), {"fields": ("display_name", "phone")}),
    )
    list_display = ("username", "display_name", "email", "is_staff", "is_active")
    search_fields = ("username", "display_name", "email", "phone")
    inlines = (RoleMembershipInline,)
    actions = ("unlock_sign_in",)

    @admin.action(description=_("Unlock sign-in of the selected users"), permissions=["change"])
    def unlock_sign_in(self, request, queryset):
        users = list(queryset.values_list("username", flat=True))
        for username in users:
            sign_in_unlock(username=username)
        self.message_user(
            request,
            _("Sign-in unlocked for %(count)d users.") % {"count": len(users)},
            messages.SUCCESS,
        )


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_en", "jurisdiction", "parent", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name", "name_en")
    autocomplete_fields = ("jurisdiction", "parent")
    list_select_related = ("jurisdiction", "parent")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("jurisdiction__boundary")


@admin.register(RoleMembership)
class RoleMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "area", "department")
    list_filter = ("role",)
    search_fields = ("user__username", "user__display_name")
    autocomplete_fields = ("user", "area", "department")
    list_select_related = ("user", "area", "department")
