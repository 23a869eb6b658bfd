"""Headless Chromium (Debian's package, driven by Playwright) against real daphne."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.conftest import require

T = TypeVar("T")

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # This machine has no network beyond loopback; these keep Chromium from trying.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


# Module scope: Playwright's loop must be gone before any async test runs.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    path = chromium_path()
    require(path is not None, "Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - a dev dependency
        require(False, "playwright is not installed")
    # Playwright's sync API keeps an event loop on the main thread, which Django takes
    # for async code; the tests' ORM calls are plain sync code. Child processes never
    # inherit this (tests.conftest.child_env drops it).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    playwright.stop()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


PASSWORD = "pw-for-tests-only"  # tests.conftest.make_user's password


def log_in(
    browser: Any,
    base_url: str,
    username: str,
    path: str,
    *,
    context: Any = None,
    init_script: str | None = None,
    **options: Any,
) -> Any:
    """A page of ``username`` (a new browser context unless given, made with
    ``options``: viewport, color_scheme) opened at ``path``, logged in through the form,
    its sockets connected. ``init_script`` runs in the new context's pages before theirs."""
    if context is None and init_script is not None:
        context = browser.new_context(**options)
        context.add_init_script(init_script)
        page = context.new_page()
        context = None  # still to log in
    else:
        page = (context or browser.new_context(**options)).new_page()
    page.set_default_timeout(15_000)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.socket_urls = sockets
    if context is None:
        page.goto(f"{base_url}/accounts/login/?next={path}")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"**{path}")
    else:
        page.goto(f"{base_url}{path}")
    page.wait_for_selector("[data-live-state=connected]")
    return page


def off_loop(call: Callable[[], T]) -> T:
    """Run a service call in another thread: Playwright's loop holds this one, and a
    service's broadcast cannot start a loop of its own beside it."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


def shot(page: Any, name: str) -> None:
    """A screenshot into $E2E_SCREENSHOTS, when it is set (to look at, not to compare)."""
    if folder := os.environ.get("E2E_SCREENSHOTS"):
        page.screenshot(path=f"{folder}/{name}.png")


def notifications_synced(page: Any) -> None:
    """Wait until the page's notifications socket has had its first sync: a notification
    sent before it is counted, not toasted (static/notifications/notify.js)."""
    page.wait_for_selector("#notify-badge[data-synced]", state="attached")
