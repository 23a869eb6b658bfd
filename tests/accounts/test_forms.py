"""The sign-up form reports every problem at once, and lists its password rules."""

from __future__ import annotations

import pytest

from accounts.forms import AdminUserCreationForm, SignupForm

pytestmark = pytest.mark.django_db


def test_a_short_password_and_a_mismatch_are_reported_together() -> None:
    form = SignupForm({"username": "carol", "password1": "carol12", "password2": "carol1"})
    assert not form.is_valid()
    codes = {name: {e.code for e in errors} for name, errors in form.errors.as_data().items()}
    assert codes == {
        "password1": {"password_too_short", "password_too_similar"},
        "password2": {"password_mismatch"},
    }


def test_the_admins_creation_form_does_the_same() -> None:
    form = AdminUserCreationForm({"username": "carol", "password1": "12345", "password2": "1234"})
    assert not form.is_valid()
    assert "password1" in form.errors
    assert "password2" in form.errors


def test_the_password_rules_come_from_the_validators() -> None:
    rules = str(SignupForm()["password1"].help_text)
    assert 'data-rule="length" data-min="8"' in rules
    assert 'data-rule="similar" data-max-similarity="0.7"' in rules
    for rule in ("numeric", "common"):
        assert f'data-rule="{rule}"' in rules
    assert "At least 8 characters." in rules
