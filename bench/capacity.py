"""What one process of ours holds on this machine, for the capacity model in
docs/deploy.md (`make capacity`; ours only: the peers have no multi-process story).

1. **Idle sockets**: N logged-in sockets on one process: memory per socket, resident
   size, idle CPU.
2. **Reconnect storm**: two processes; N logged-in sockets on one, a background of idle
   sockets on the other; the first is killed (SIGKILL). Every client reconnects to the
   survivor as the browser's live.js does (a jittered delay, back-off, at least a second
   after a refused handshake, ``Retry-After`` honoured when readable): the time until all
   are back, the rate, and how many handshakes were shed on the way.

    python -m bench.capacity --idle 10000 --storm 2000,5000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from dataclasses import replace
from typing import Any

import websockets

from bench import load
from bench.run import FULL, scenario_idle
from bench.stacks import Ours, stop_embedded_redis

BACKGROUND = 500  # idle sockets on the survivor while the storm arrives


async def reconnect(url: str, headers: dict[str, str], origin: str) -> tuple[Any, int, int, float]:
    """Connect as live.js does; (socket, attempts, 503s met, when it was back)."""
    attempt, shed = 0, 0
    await asyncio.sleep(random.uniform(0, 0.5))  # first retry: full jitter of 0.5 s
    while True:
        attempt += 1
        try:
            ws = await websockets.connect(
                url,
                origin=origin,
                additional_headers=headers,
                open_timeout=60,
                ping_interval=None,
                max_queue=None,
            )
            await asyncio.wait_for(ws.recv(), 120)  # the sync: joined
            return ws, attempt, shed, time.perf_counter()
        except websockets.InvalidStatus as refused:
            if refused.response.status_code == 503 and "Retry-After" in refused.response.headers:
                # The server spread its Retry-Afters over the time it needs: come back
                # then, not later (a back-off on top leaves it idle at the end).
                shed += 1
                await asyncio.sleep(float(refused.response.headers["Retry-After"]))
                continue
            wait = 1.0
        except (OSError, TimeoutError, websockets.WebSocketException):
            wait = 1.0
        ceiling = min(15.0, 0.5 * 2**attempt)
        await asyncio.sleep(wait + random.uniform(0, ceiling))


async def storm(count: int) -> dict[str, Any]:
    stack = Ours()
    room = "bench-reconnect"
    headers = await asyncio.to_thread(stack.prepare, count + BACKGROUND, [room])
    stack.start(2)
    try:
        doomed_port, survivor_port = stack.ports
        plan = [(room, doomed_port)] * count
        clients, connect_s, failures = await load.connect_all(stack, plan, headers[:count])
        background, _, _ = await load.connect_all(
            stack, [(room, survivor_port)] * BACKGROUND, headers[count:]
        )
        await asyncio.sleep(2)
        stack.processes[0].kill()
        killed = time.perf_counter()
        url = stack.url(survivor_port, room)
        origin = f"http://127.0.0.1:{survivor_port}"
        results = await asyncio.gather(
            *(reconnect(url, headers[c.index], origin) for c in clients), return_exceptions=True
        )
        took = time.perf_counter() - killed
        back = [r for r in results if not isinstance(r, BaseException)]
        await load.close_all([load.Client(ws=r[0], room=room, index=0) for r in back])
        await load.close_all(background)
        return {
            "sockets": count,
            "first_connect_s": round(connect_s, 1),
            "connect_failures": failures,
            "back": len(back),
            "all_back_s": round(took, 1),
            "rate_per_s": round(len(back) / took, 0),
            "back_p50_s": round(load.percentile([r[3] - killed for r in back], 50) or 0, 1),
            "back_p90_s": round(load.percentile([r[3] - killed for r in back], 90) or 0, 1),
            "shed_503": sum(r[2] for r in back),
            "retried": sum(1 for r in back if r[1] > 1),
        }
    finally:
        stack.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--idle", type=int, default=10_000, help="idle sockets on one process")
    parser.add_argument("--storm", default="2000,5000", help="sockets on the killed process")
    parser.add_argument(
        "--shed", default="20", help="RT_CONNECT_SHED_SECONDS values to storm with (0: off)"
    )
    args = parser.parse_args()
    Ours().setup_django()
    report: dict[str, Any] = {}
    try:
        if args.idle:
            rows = await scenario_idle(Ours(), replace(FULL, idle_sockets=args.idle))
            report["idle"] = rows[0]
            print(json.dumps(rows[0]), flush=True)
        for shed in (s.strip() for s in args.shed.split(",") if s.strip()):
            os.environ["RT_CONNECT_SHED_SECONDS"] = shed  # the servers' environment
            for size in (int(n) for n in args.storm.split(",") if n.strip()):
                row = {"shed_seconds": float(shed), **await storm(size)}
                report[f"storm_{size}_shed_{shed}"] = row
                print(json.dumps(row), flush=True)
    finally:
        stop_embedded_redis()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
