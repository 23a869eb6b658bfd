"""The client's address behind proxies (common/proxies.py): only the entries the trusted
proxies added to X-Forwarded-For are believed."""

from __future__ import annotations

from typing import Any

import pytest

from common import proxies
from common.proxies import client_address, settle_client

PEER = "127.0.0.1"  # the connection's own address: the last proxy's


def test_no_trusted_proxy_believes_no_header() -> None:
    assert client_address(PEER, ["203.0.113.5"], 0) == PEER
    assert client_address(PEER, [], 0) == PEER


def test_one_proxy_forged_leftmost_entries_are_ignored() -> None:
    # nginx's $proxy_add_x_forwarded_for: what the client sent, then what nginx saw.
    assert client_address(PEER, ["198.51.100.1, 198.51.100.2, 203.0.113.5"], 1) == "203.0.113.5"
    # The guide's nginx: only what it saw.
    assert client_address(PEER, ["203.0.113.5"], 1) == "203.0.113.5"
    # Repeated header lines are one list, in order.
    assert client_address(PEER, ["198.51.100.1", "203.0.113.5"], 1) == "203.0.113.5"


def test_n_trusted_proxies_take_the_nth_entry_from_the_right() -> None:
    chain = ["198.51.100.1, 203.0.113.5, 10.0.0.2"]  # forged, client, the outer proxy
    assert client_address(PEER, chain, 2) == "203.0.113.5"
    assert client_address(PEER, chain, 3) == "198.51.100.1"  # all trusted: believed


def test_fewer_entries_than_proxies_or_no_address_falls_back_to_the_peer() -> None:
    assert client_address(PEER, ["203.0.113.5"], 2) == PEER
    assert client_address(PEER, [], 1) == PEER
    assert client_address(PEER, ["198.51.100.1, unknown"], 1) == PEER
    assert client_address(PEER, ["203.0.113.5, "], 1) == PEER
    assert client_address(None, ["203.0.113.5"], 1) == "203.0.113.5"  # a unix socket


def test_addresses_are_written_one_way() -> None:
    # One IPv6 address is one bucket of the limits, however it is spelled.
    assert client_address(PEER, [" 2001:DB8:0::1 "], 1) == "2001:db8::1"


def scope(client: list[Any] | None, *forwarded_for: str) -> dict[str, Any]:
    headers = [(b"host", b"localhost")]
    headers += [(b"x-forwarded-for", value.encode()) for value in forwarded_for]
    return {"type": "http", "client": client, "headers": headers}


def test_the_scope_gets_the_address(settings: Any) -> None:
    settings.RT_TRUSTED_PROXY_COUNT = 1
    proxied = scope([PEER, 40000], "198.51.100.1, 203.0.113.5")
    settle_client(proxied)
    assert proxied["client"] == ["203.0.113.5", 0]
    direct = scope([PEER, 40000])
    settle_client(direct)
    assert direct["client"] == [PEER, 40000]


def test_the_scope_keeps_the_peer_when_no_proxy_is_trusted(
    settings: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.RT_TRUSTED_PROXY_COUNT = 0
    monkeypatch.setitem(proxies._state, "warned", False)
    for _ in range(3):
        forged = scope([PEER, 40000], "203.0.113.5")
        settle_client(forged)
        assert forged["client"] == [PEER, 40000]
    # A proxy the setting does not know of is told once, not per request.
    warned = [r for r in caplog.records if "RT_TRUSTED_PROXY_COUNT is 0" in r.getMessage()]
    assert len(warned) == 1
