"""What an idle socket holds, by owner (``make memory``): tracemalloc in one daphne
process, a snapshot before and after N logged-in sockets join a room, compared by file.

    python -m bench.memory [--sockets 1000]

Prints KB per socket for each package (autobahn, twisted, daphne, channels, ours, ...)
and the lines that hold the most. tracemalloc sees Python's allocations only: RSS per
socket (``make bench``'s idle scenario) also counts the kernel's socket buffers and the
allocator's slack.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tracemalloc
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench import load
from bench.stacks import Ours, OursOn, stop_embedded_redis, var_dir


def owner(filename: str) -> str:
    for part in (
        "autobahn",
        "twisted",
        "daphne",
        "channels_redis",
        "channels",
        "asgiref",
        "redis",
        "django",
        "txaio",
        "zope",
    ):
        if f"/{part}/" in filename:
            return part
    if "/asyncio/" in filename:
        return "asyncio"
    for ours in ("/rtsite/", "/chat/", "/notifications/", "/game/"):
        if ours in filename and "site-packages" not in filename:
            return "ours"
    return "other"


async def snapshot(stack: OursOn, n: int) -> tracemalloc.Snapshot:
    path = Path(f"{stack.extra_env['RT_MEMTRACE_FILE']}.{n}")
    os.kill(stack.pids()[0], signal.SIGUSR1)
    for _ in range(200):
        await asyncio.sleep(0.1)
        if await asyncio.to_thread(path.exists):
            await asyncio.sleep(1)  # written
            return tracemalloc.Snapshot.load(str(path))
    raise RuntimeError("no snapshot")


async def run(sockets: int) -> dict[str, Any]:
    Ours().setup_django()
    base = var_dir() / "memtrace"
    for old in var_dir().glob("memtrace.*"):
        old.unlink()
    stack = OursOn("bench.memtrace:application", RT_MEMTRACE_FILE=str(base))
    room = "bench-memory"
    headers = await asyncio.to_thread(stack.prepare, sockets + 1, [room])
    stack.start(1)
    try:
        warm, _, _ = await load.connect_all(stack, [(room, stack.ports[0])], headers[-1:])
        await asyncio.sleep(2)
        before = await snapshot(stack, 0)
        plan = [(room, stack.ports[0])] * sockets
        clients, _, failures = await load.connect_all(stack, plan, headers[:sockets])
        await asyncio.sleep(3)
        after = await snapshot(stack, 1)
        await load.close_all(clients + warm)
    finally:
        stack.stop()
    stats = after.compare_to(before, "lineno")
    by_owner: dict[str, int] = defaultdict(int)
    for stat in stats:
        by_owner[owner(stat.traceback[0].filename)] += stat.size_diff
    per = max(1, len(clients))
    return {
        "sockets": len(clients),
        "failures": failures,
        "total_kb_per_socket": round(sum(by_owner.values()) / per / 1024, 2),
        "by_owner_kb_per_socket": {
            k: round(v / per / 1024, 2) for k, v in sorted(by_owner.items(), key=lambda x: -x[1])
        },
        "top_lines": [
            (
                f"{s.traceback[0].filename.split('site-packages/')[-1]}:{s.traceback[0].lineno}",
                round(s.size_diff / per),
                s.count_diff,
            )
            for s in stats[:25]
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, default=1000)
    args = parser.parse_args()
    try:
        result = asyncio.run(run(args.sockets))
    finally:
        stop_embedded_redis()
    print(f"{result['sockets']} sockets, {result['total_kb_per_socket']} KB each (Python heap)")
    for name, kb in result["by_owner_kb_per_socket"].items():
        print(f"  {name:16} {kb:8.2f} KB")
    print("top lines (bytes per socket, objects):")
    for line, size, count in result["top_lines"]:
        print(f"  {size:8d}  {count:7d}  {line}")


if __name__ == "__main__":
    main()
