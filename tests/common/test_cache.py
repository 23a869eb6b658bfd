"""The project's cache (``common.cache``): its own async methods share keys and values
with Django's sync ones, on the real Redis."""

from __future__ import annotations

import uuid

from django.core.cache import cache


async def test_async_and_sync_read_what_the_other_wrote() -> None:
    key = f"test-cache-{uuid.uuid4().hex}"
    cache.set(key, {"a": [1, 2]}, 30)
    assert await cache.aget(key) == {"a": [1, 2]}
    await cache.aset(key + "n", 7, 30)  # Django stores ints as plain numbers
    assert cache.get(key + "n") == 7
    assert cache.incr(key + "n") == 8
    await cache.aset(key, "changed", 30)
    assert cache.get(key) == "changed"
    assert await cache.aget(key + "-none", "default") == "default"


async def test_async_delete_and_zero_timeout() -> None:
    key = f"test-cache-{uuid.uuid4().hex}"
    await cache.aset(key, "x", 30)
    assert await cache.adelete(key) is True
    assert cache.get(key) is None
    cache.set(key, "x", 30)
    await cache.aset(key, "y", 0)  # as Django: a timeout of 0 deletes
    assert cache.get(key) is None
