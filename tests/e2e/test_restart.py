"""A rolling restart of `make serve` under an open room page, in Chromium: the page shows
"Reconnecting…" when its worker says it is restarting, is live again on the other
worker, and a message sent while its worker drained is shown once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from chat import services as chat_services
from chat.models import Room
from tests.conftest import ROOT, child_env
from tests.e2e.conftest import log_in, off_loop, shot
from tests.e2e.test_chat import bodies, send, wait_for_body
from tests.reliability.test_serve import Served, served  # noqa: F401 - the fixture

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Every state the badge shows, in order (the page's own record of it).
RECORD_STATES = """
window.__states = [];
new MutationObserver(() => {
  const badge = document.querySelector("[data-live-state]");
  const state = badge && badge.dataset.liveState;
  if (state && window.__states[window.__states.length - 1] !== state) window.__states.push(state);
}).observe(document, {subtree: true, attributes: true, attributeFilter: ["data-live-state"]});
"""


def test_a_rolling_restart_under_an_open_page(
    browser: Any,
    served: Served,  # noqa: F811 - the fixture imported above
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    bob = make_user("bob")
    room = make_room()
    page = log_in(browser, served.url, "alice", f"/chat/{room.slug}/", init_script=RECORD_STATES)
    restart = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "serve", "--restart"],
        env=child_env(RTSITE_VAR_DIR=str(served.var)),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    send(page, "sent while the workers restart")
    output, _ = restart.communicate(timeout=120)
    assert restart.returncode == 0, output
    page.wait_for_selector("[data-live-state=connected]")
    off_loop(lambda: chat_services.message_post(room=room, author=bob, body="after the restart"))
    wait_for_body(page, "after the restart")
    wait_for_body(page, "sent while the workers restart")
    assert bodies(page).count("sent while the workers restart") == 1
    states = page.evaluate("window.__states")
    assert "reconnecting" in states, states
    assert states[-1] == "connected"
    assert "closed" not in states  # never "Disconnected": 1012 is retried
    shot(page, "room-after-restart")
