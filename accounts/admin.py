from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from accounts.forms import AdminUserChangeForm, AdminUserCreationForm


class LookalikeCheckingUserAdmin(UserAdmin):
    """Django's user admin, refusing names that look the same as an existing one."""

    form = AdminUserChangeForm
    add_form = AdminUserCreationForm


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), LookalikeCheckingUserAdmin)
