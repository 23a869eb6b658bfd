"""User forms that refuse a name looking the same as another account's, and report every
password problem at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import password_validation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

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


class AllPasswordProblemsMixin:
    """For user creation forms: the password's strength is checked on the password
    itself, so a short password with a mismatched confirmation reports both at once.
    (Django checks the confirmation's, which a mismatch has already removed.)"""

    def validate_password_for_user(self, user: Any, **kwargs: Any) -> None:
        kwargs["password_field_name"] = "password1"  # noqa: S105 - a field's name
        super().validate_password_for_user(user, **kwargs)  # type: ignore[misc]


# The rules the sign-up page checks as you type (static/accounts/password_rules.js), by
# Django's validator, in plain words; other validators are listed with their own help
# text and checked by the server only.
_LIVE_RULES: dict[type, tuple[str, Callable[[Any], str], Callable[[Any], dict[str, Any]]]] = {
    password_validation.MinimumLengthValidator: (
        "length",
        lambda v: f"At least {v.min_length} characters.",
        lambda v: {"min": v.min_length},
    ),
    password_validation.NumericPasswordValidator: (
        "numeric",
        lambda v: "Not only digits.",
        lambda v: {},
    ),
    password_validation.UserAttributeSimilarityValidator: (
        "similar",
        lambda v: "Not too like your username.",
        lambda v: {"max-similarity": v.max_similarity},
    ),
    password_validation.CommonPasswordValidator: (
        "common",
        lambda v: "Not a commonly used password (checked when you create the account).",
        lambda v: {},
    ),
}


def password_rules_html() -> SafeString:
    """The password's rules as a list, from the validators in settings: the help text of
    the sign-up's password field, which the page's script marks as met or not."""
    items = []
    for validator in password_validation.get_default_password_validators():
        rule, text, data = _LIVE_RULES.get(
            type(validator), ("", lambda v: v.get_help_text(), lambda v: {})
        )
        attrs = format_html_join(
            "", ' data-{}="{}"', ((name, value) for name, value in data(validator).items())
        )
        items.append(
            format_html(
                '<li data-rule="{}"{}><span class="rule-sign" aria-hidden="true"></span>'
                '<span class="rule-state visually-hidden"></span>{}</li>',
                rule,
                attrs,
                text(validator),
            )
        )
    return format_html(
        '<span class="visually-hidden">Your password needs: </span>'
        '<ul class="password-rules" data-password-rules>{}</ul>',
        SafeString("".join(items)),
    )


class SignupForm(AllPasswordProblemsMixin, LookalikeUsernameMixin, auth_forms.UserCreationForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password1"].help_text = password_rules_html()
        self.fields["password2"].help_text = mark_safe(  # a constant
            'Type the same password again.<span class="match-state" data-match></span>'
        )


class AdminUserCreationForm(
    AllPasswordProblemsMixin, LookalikeUsernameMixin, auth_forms.AdminUserCreationForm
):
    pass


class AdminUserChangeForm(LookalikeUsernameMixin, auth_forms.UserChangeForm):
    pass
