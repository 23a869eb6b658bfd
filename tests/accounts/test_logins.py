"""Counting failed logins per account and per address, in Redis."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache

from accounts import logins, selectors, services


@pytest.fixture(autouse=True)
def _fresh_counts() -> None:
    cache.clear()


def test_ipv6_addresses_are_counted_by_their_64() -> None:
    assert logins.address_group("2001:db8:1:2::1") == logins.address_group("2001:db8:1:2:ffff::9")
    assert logins.address_group("2001:db8:1:2::1") != logins.address_group("2001:db8:1:3::1")
    assert logins.address_group("::ffff:10.0.0.1") == "10.0.0.1"
    assert logins.address_group("10.0.0.1") != logins.address_group("10.0.0.2")


def test_accounts_are_counted_in_any_case_and_by_a_hash() -> None:
    assert logins.account_name("Alice") == logins.account_name("alice")
    assert logins.account_name("alice") != logins.account_name("alicia")
    assert "alice" not in logins.keys(username="alice", address="10.0.0.1")["account"]


def test_minutes_are_whole_and_never_zero() -> None:
    assert [logins.minutes(s) for s in (0, 1, 60, 61, 240, 241)] == [1, 1, 1, 2, 4, 5]


def test_each_failure_counts_against_the_account_and_the_address(settings: Any) -> None:
    settings.LOGIN_FAILURE_LIMITS = {"account": (3, 300), "address": (5, 600)}
    counts = [services.login_failure_record(username="alice", address="10.0.0.1") for _ in "ab"]
    assert counts == [{"account": 1, "address": 1}, {"account": 2, "address": 2}]
    assert services.login_failure_record(username="bob", address="10.0.0.1") == {
        "account": 1,
        "address": 3,
    }
    assert selectors.login_lock(username="alice", address="10.0.0.1") is None
    services.login_failure_record(username="ALICE", address="10.0.0.2")
    lock = selectors.login_lock(username="alice", address="10.0.0.9")
    assert lock is not None
    assert lock.scope == "account"
    assert 290 <= lock.seconds <= 300  # from the first failure: the window does not slide
    assert lock.minutes == 5
    # Two more from 10.0.0.1, on other names: the address is at its limit too.
    for name in ("carol", "dave"):
        services.login_failure_record(username=name, address="10.0.0.1")
    lock = selectors.login_lock(username="erin", address="10.0.0.1")
    assert lock is not None
    assert lock.scope == "address"
    assert 590 <= lock.seconds <= 600
    # Both at their limit: the account's is the one said.
    lock = selectors.login_lock(username="alice", address="10.0.0.1")
    assert lock is not None
    assert lock.scope == "account"


def test_a_success_clears_the_account_but_not_the_address(settings: Any) -> None:
    settings.LOGIN_FAILURE_LIMITS = {"account": (2, 300), "address": (2, 300)}
    for _ in range(2):
        services.login_failure_record(username="alice", address="10.0.0.1")
    services.login_failures_clear(username="Alice")
    assert selectors.login_lock(username="alice", address="10.0.0.2") is None
    lock = selectors.login_lock(username="alice", address="10.0.0.1")
    assert lock is not None
    assert lock.scope == "address"


def test_the_count_ends_with_its_window(settings: Any) -> None:
    settings.LOGIN_FAILURE_LIMITS = {"account": (1, 1), "address": (100, 1)}
    services.login_failure_record(username="alice", address="10.0.0.1")
    assert selectors.login_lock(username="alice", address="10.0.0.1") is not None
    name = logins.keys(username="alice", address="10.0.0.1")["account"]
    services.get_redis().pexpire(name, 1)  # the window's end, without waiting for it
    assert selectors.login_lock(username="alice", address="10.0.0.1") is None


def test_without_redis_logins_are_neither_counted_nor_refused(settings: Any) -> None:
    settings.LOGIN_FAILURE_LIMITS = {"account": (1, 300), "address": (1, 300)}
    broken = mock.Mock(side_effect=ConnectionError("Redis is away"))
    with (
        mock.patch.object(services, "get_redis", broken),
        mock.patch.object(selectors, "get_redis", broken),
    ):
        assert services.login_failure_record(username="alice", address="10.0.0.1") == {}
        assert selectors.login_lock(username="alice", address="10.0.0.1") is None
