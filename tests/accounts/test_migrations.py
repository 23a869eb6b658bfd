"""The account-name table moved apps with its model (``rtsite`` to ``accounts``): a site
migrated before the move keeps its rows."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.models import AccountName


@pytest.mark.django_db(transaction=True)
def test_a_site_migrated_before_the_move_keeps_its_account_names(django_user_model: Any) -> None:
    alice = django_user_model.objects.create_user("alice", password="x-long-password-1")
    bob = django_user_model.objects.create_user("bob", password="x-long-password-2")
    call_command("migrate", "accounts", "zero", verbosity=0)
    # What the project app's migration left behind: its table, with alice's row.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE rtsite_accountname (user_id integer PRIMARY KEY REFERENCES"
            " auth_user (id) DEFERRABLE INITIALLY DEFERRED, skeleton varchar(600) NOT NULL,"
            " folded_skeleton varchar(600) NOT NULL)"
        )
        cursor.execute("INSERT INTO rtsite_accountname VALUES (%s, 'kept', 'kept')", [alice.pk])

    call_command("migrate", "accounts", verbosity=0)

    assert "rtsite_accountname" not in connection.introspection.table_names()
    assert AccountName.objects.get(user=alice).skeleton == "kept"  # adopted, not redone
    assert AccountName.objects.get(user=bob).skeleton == "bob"  # named by the migration
