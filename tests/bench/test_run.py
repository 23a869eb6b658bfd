"""The benchmark tool works end to end on a tiny run. (Numbers stay out of tests.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tiny_run_of_every_scenario_against_every_stack(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)  # the bench keeps its own SQLite under RTSITE_VAR_DIR
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("RTSITE_REDIS_DIR", None)  # the bench's own Redis, not this suite's
    env["RTSITE_VAR_DIR"] = str(tmp_path / "var")
    out = tmp_path / "result.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--tiny", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    rows = data["results"]
    assert {row["stack"] for row in rows} == {"ours", "tornado", "tutorial"}
    assert {row["scenario"] for row in rows} == {
        "fanout",
        "sustain",
        "roundtrip",
        "idle",
        "storm",
        "scaleout",
        "notify",
        "notify_cost",
        "chat_cost",
        "updates",
        "reading",
        "game",
    }
    assert not [row for row in rows if "error" in row]
    for row in rows:
        if row["scenario"] == "fanout":
            assert row["delivered"] == row["expected"] > 0
            assert row["p99_ms"] is not None
        if row["scenario"] in ("notify", "updates", "reading"):
            assert row["delivered"] == row["expected"] > 0
            assert row["messages_reaching_all_pct"] == 100
        if row["scenario"] == "game":
            assert row["moves"] > 0
            assert row["rejected_legal_moves"] == row["missing_deliveries"] == 0
            assert row["deliveries"] == 4 * row["moves"]
        if row["scenario"] in ("notify_cost", "chat_cost"):
            assert row["stack"] == "ours"
        if row["scenario"] == "chat_cost" and row["variant"].startswith("post to"):
            assert row["rows_written_per_member"] == 0
        if row["scenario"] == "roundtrip" and row["stack"] == "ours":
            assert row["stored"] == row["sent"]
            assert row["stored_duplicates"] == 0
    assert "## fanout" in result.stdout
    assert "ours/tornado" in result.stdout
    if os.environ.get("REDIS_URL") is None:  # the bench's own embedded Redis
        subprocess.run(
            [sys.executable, "manage.py", "embedded_redis", "stop"],
            cwd=ROOT,
            env={**env, "DEBUG": "true"},
            check=False,
            capture_output=True,
        )
