"""Usernames that look alike, and the forms that refuse them.

"alice" spelled with a Cyrillic a beside "alice" is the same name to a reader. Each name is
reduced to a skeleton in the spirit of Unicode TS #39: compatibility-normalized, each
character replaced by the representative of its set of look-alikes, case folded; two
names with one skeleton are one name. The look-alike sets come from the Unicode
confusables data as shipped by the confusable-homoglyphs package (docs/decisions.md).
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Any

from confusable_homoglyphs.confusables import confusables_data
from django import forms
from django.contrib.auth import forms as auth_forms


@functools.cache
def _representatives() -> dict[str, str]:
    """Each confusable character -> the lowest code point among it and its look-alikes."""
    table: dict[str, str] = {}
    for char, entries in confusables_data.items():
        if len(char) != 1:
            continue
        family = {char}
        for entry in entries:
            glyph = entry["c"].strip("\u200e\u200f")  # the data wraps RTL glyphs in marks
            if len(glyph) == 1:
                family.add(glyph)
        table[char] = min(family)
    return table


def _fold(text: str) -> str:
    table = _representatives()
    return "".join(table.get(char, char) for char in text)


def username_skeleton(username: str) -> str:
    """The form two names share when they look the same."""
    text = unicodedata.normalize("NFKC", username)
    # Before and after case folding: "I" and "l" look alike, "i" and "l" do not.
    return _fold(_fold(text).casefold())


def username_taken(username: str, *, exclude_pk: int | None = None) -> bool:
    from rtsite.models import AccountName

    names = AccountName.objects.filter(skeleton=username_skeleton(username))
    if exclude_pk is not None:
        names = names.exclude(user_id=exclude_pk)
    return names.exists()


def account_name_sync(*, user: Any) -> None:
    """Keep the user's skeleton in step with their username (on every save)."""
    from rtsite.models import AccountName

    AccountName.objects.update_or_create(
        user=user, defaults={"skeleton": username_skeleton(user.get_username())}
    )


class LookalikeUsernameMixin:
    """For user forms: refuse a name that looks the same as another account's."""

    def clean_username(self) -> str:
        parent = getattr(super(), "clean_username", None)
        username = parent() if parent else self.cleaned_data.get("username")  # type: ignore[attr-defined]
        if not username or self.has_error("username"):  # type: ignore[attr-defined]
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
