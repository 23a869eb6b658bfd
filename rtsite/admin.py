"""Admin pieces shared by the apps."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from rtsite.accounts import AdminUserChangeForm, AdminUserCreationForm


class ReadOnlyTabularInline(admin.TabularInline):
    """Rows shown for the record (moves, recipients, reads): never added or removed here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LookalikeCheckingUserAdmin(UserAdmin):
    """Django's user admin, refusing names that look the same as an existing one."""

    form = AdminUserChangeForm
    add_form = AdminUserCreationForm


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), LookalikeCheckingUserAdmin)
