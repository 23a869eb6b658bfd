"""User forms that refuse a name looking the same as another account's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib.auth import forms as auth_forms

from accounts.selectors import username_taken


class LookalikeUsernameMixin:
    """For user forms: refuse a name that looks the same as another account's."""

    # The form's, which the mixin is combined with (declared for the type checker only).
    cleaned_data: dict[str, Any]
    has_error: Callable[..., bool]

    def clean_username(self) -> str:
        parent = getattr(super(), "clean_username", None)
        # Django calls clean_username only once the field has cleaned it: it is there.
        username: str = parent() if parent else self.cleaned_data["username"]
        if not username or self.has_error("username"):
            return username  # already refused (taken in another case, say)
        instance = getattr(self, "instance", None)
        if username_taken(username, exclude_pk=getattr(instance, "pk", None)):
            raise forms.ValidationError(
                "This name looks the same as an existing one; choose another.",
                code="lookalike",
            )
        return username


class SignupForm(LookalikeUsernameMixin, auth_forms.UserCreationForm):
    pass


class AdminUserCreationForm(LookalikeUsernameMixin, auth_forms.AdminUserCreationForm):
    pass


class AdminUserChangeForm(LookalikeUsernameMixin, auth_forms.UserChangeForm):
    pass
