"""Where a chat message's time goes in a normal room (``make hops``).

20 sockets in one room, one of them posting 10 messages a second, as the fan-out
scenario's "20 subs @ 10/s"; the server is our daphne process with a clock at each hop
(``bench.hoptrace``). Each message is sent after the previous one reached everyone, so
every server mark between two sends belongs to the first of them. Prints each hop's time
since the client's send (p50, p99) and the step from the hop before, and Tornado's
delivery for the same room in the same run.

    python -m bench.hops [--messages 200] [--subscribers 20] [--rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench import load
from bench.stacks import Ours, OursOn, Stack, Tornado, stop_embedded_redis, var_dir

# Server marks in the order a message passes them (bench.hoptrace), and the client's.
ORDER = [
    "frame_in",
    "handler",
    "limit_checked",
    "thread_in",
    "commit_start",
    "commit_end",
    "thread_out",
    "publish_start",
    "hub_in",
    "first_delivery",
    "hub_done",
    "last_delivery",
    "publish_end",
    "ack_sent",
    "ack_received",
]


async def _measure(stack: Stack, subscribers: int, messages: int, rate: float) -> dict[str, Any]:
    room = "bench-hops"
    headers = await asyncio.to_thread(stack.prepare, subscribers, [room])
    stack.start(1)
    try:
        plan = [(room, stack.ports[0])] * subscribers
        clients, _seconds, failures = await load.connect_all(stack, plan, headers)
        if failures:
            raise RuntimeError(f"{failures} sockets did not connect")
        await asyncio.sleep(1)
        prefix = "h:"
        sends: list[float] = []
        first: dict[int, float] = {}
        last: dict[int, float] = {}
        got: dict[int, int] = defaultdict(int)
        acked: dict[int, float] = {}
        everyone = asyncio.Event()

        async def read(client: load.Client) -> None:
            async for raw in client.ws:
                now = time.perf_counter()
                tag = stack.read(raw, prefix)
                if tag is not None:
                    k = int(tag[len(prefix) :])
                    first.setdefault(k, now)
                    last[k] = now
                    got[k] += 1
                    if got[k] == len(clients) and (k in acked or not stack.waits_for_first_frame()):
                        everyone.set()
                elif raw.startswith('{"type":"ack"') and client is clients[0]:
                    k = len(sends) - 1
                    acked[k] = now
                    if got[k] == len(clients):
                        everyone.set()

        readers = [asyncio.create_task(read(c)) for c in clients]
        for k in range(messages):
            start = time.perf_counter()
            everyone.clear()
            sends.append(time.perf_counter())
            await clients[0].ws.send(stack.publish(f"{prefix}{k}"))
            await asyncio.wait_for(everyone.wait(), 10)
            await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - start)))
        for task in readers:
            task.cancel()
        await load.close_all(clients)
        return {"sends": sends, "first": first, "last": last, "acked": acked}
    finally:
        stack.stop()


def _percentiles(values: list[float]) -> tuple[float | None, float | None]:
    ms = [v * 1000 for v in values]
    return load.percentile(ms, 50), load.percentile(ms, 99)


def hop_table(marks_file: Path, seen: dict[str, Any]) -> list[dict[str, Any]]:
    sends: list[float] = seen["sends"]
    marks: list[tuple[str, float]] = []
    for line in marks_file.read_text().splitlines():
        name, at = line.split()
        marks.append((name, float(at)))
    since: dict[str, list[float]] = defaultdict(list)
    for k, sent in enumerate(sends):
        end = sends[k + 1] if k + 1 < len(sends) else float("inf")
        window: dict[str, float] = {}
        for name, at in marks:
            if sent <= at < end:
                window.setdefault(name, at)  # the first of each (one publisher socket)
        if k in seen["first"]:
            window["first_delivery"] = seen["first"][k]
            window["last_delivery"] = seen["last"][k]
        if k in seen["acked"]:
            window["ack_received"] = seen["acked"][k]
        for name, at in window.items():
            since[name].append(at - sent)
    rows = []
    previous = 0.0
    for name in ORDER:
        if not since.get(name):
            continue
        p50, p99 = _percentiles(since[name])
        rows.append(
            {
                "hop": name,
                "since_send_p50_ms": round(p50 or 0, 3),
                "since_send_p99_ms": round(p99 or 0, 3),
                "step_p50_ms": round((p50 or 0) - previous, 3),
            }
        )
        previous = p50 or 0
    return rows


async def run(subscribers: int, messages: int, rate: float) -> dict[str, Any]:
    Ours().setup_django()
    marks = var_dir() / "hops.marks"
    marks.unlink(missing_ok=True)
    traced = OursOn("bench.hoptrace:application", RT_HOPS_FILE=str(marks))
    ours = await _measure(traced, subscribers, messages, rate)
    plain = await _measure(Ours(), subscribers, messages, rate)
    tornado = await _measure(Tornado(), subscribers, messages, rate)

    def delivery(seen: dict[str, Any]) -> dict[str, Any]:
        firsts = [seen["first"][k] - s for k, s in enumerate(seen["sends"]) if k in seen["first"]]
        lasts = [seen["last"][k] - s for k, s in enumerate(seen["sends"]) if k in seen["last"]]
        f50, f99 = _percentiles(firsts)
        l50, l99 = _percentiles(lasts)
        return {"first_p50_ms": f50, "first_p99_ms": f99, "last_p50_ms": l50, "last_p99_ms": l99}

    return {
        "hops": hop_table(marks, ours),
        "ours_untraced": delivery(plain),
        "tornado": delivery(tornado),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=20)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10)
    args = parser.parse_args()
    try:
        result = asyncio.run(run(args.subscribers, args.messages, args.rate))
    finally:
        stop_embedded_redis()
    print(f"{'hop':16} {'since send p50':>15} {'p99':>9} {'step p50':>9}  (ms)")
    for row in result["hops"]:
        print(
            f"{row['hop']:16} {row['since_send_p50_ms']:15.3f} {row['since_send_p99_ms']:9.3f}"
            f" {row['step_p50_ms']:9.3f}"
        )
    for name in ("ours_untraced", "tornado"):
        d = result[name]
        print(
            f"{name:16} first p50 {d['first_p50_ms']:.2f} p99 {d['first_p99_ms']:.2f}"
            f"  last p50 {d['last_p50_ms']:.2f} p99 {d['last_p99_ms']:.2f}"
        )
    out = Path(os.environ.get("RT_HOPS_OUT", var_dir() / "hops.json"))
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
