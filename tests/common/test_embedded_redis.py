"""The embedded Redis: one real server per var/ directory, shared across processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from common import embedded_redis

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def redis_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("r")
    yield directory
    embedded_redis.stop(directory)


def test_started_once_and_shared_by_processes(redis_dir: Path) -> None:
    starter = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[2]);"
        "from common import embedded_redis as e; e.ensure_running(Path(sys.argv[1]));"
        "import redis; r = redis.Redis.from_url(e.url(Path(sys.argv[1])));"
        "r.incr('starts'); print(r.info('server')['process_id'])"
    )
    # Three processes racing to start it end up on one server.
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", starter, str(redis_dir), str(ROOT)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    pids = {proc.communicate(timeout=60)[0].strip() for proc in procs}
    assert len(pids) == 1
    client = redis.Redis.from_url(embedded_redis.url(redis_dir))
    assert int(client.get("starts")) == 3
    assert embedded_redis.stop(redis_dir) is True
    assert embedded_redis.is_running(redis_dir) is False


def test_long_directories_get_a_short_socket_path(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    path = embedded_redis.socket_path(deep)
    assert len(str(path)) <= 100
    assert path == embedded_redis.socket_path(deep)  # stable for every process
