"""Processes and commands refuse a channel layer configuration that differs from the
running site's (realtime/layercheck.py): ``send_notification`` with another shard list
printed ``"sent": true`` while no socket got it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from notifications.models import Notification
from tests.conftest import ROOT, Daphne, child_env, free_port, start_daphne

pytestmark = pytest.mark.django_db(transaction=True)


def other_layer() -> str:
    """The site's shard plus one more: a different shard list."""
    address = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"]
    return f"{address},redis://127.0.0.1:{free_port()}/0"


def send(*extra_env: tuple[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "send_notification",
            "--all",
            "--json",
            "--title",
            "layer check",
        ],
        env=child_env(**dict(extra_env)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_command_with_another_layer_is_refused_and_stores_nothing(
    daphne_server: Daphne,
) -> None:
    refused = send(("CHANNEL_LAYER_REDIS_URLS", other_layer()))
    assert refused.returncode == 1
    answer = json.loads(refused.stdout)
    assert answer["sent"] is False
    assert "differs from the running site's" in answer["error"]
    assert "CHANNEL_LAYER_REDIS_URLS" in answer["error"]
    assert not Notification.objects.filter(title="layer check").exists()
    # The same command with the site's settings goes through.
    sent = send()
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["sent"] is True


def test_a_process_with_another_layer_does_not_start(daphne_server: Daphne, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as failed:
        start_daphne(tmp_path, env={"CHANNEL_LAYER_REDIS_URLS": other_layer()})
    assert "differs from the running site's" in str(failed.value)
