"""The terminal table: each scenario, our row beside each peer's, with ratios."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The columns shown per scenario, and for each, whether lower is better.
COLUMNS: dict[str, list[tuple[str, bool]]] = {
    "fanout": [
        ("delivered_pct", False),
        ("p50_ms", True),
        ("p99_ms", True),
        ("max_ms", True),
        ("deliveries_per_s", False),
        ("connect_s", True),
        ("server_cpu_pct", True),
        ("cpu_ms_per_message", True),
        ("server_peak_rss_mb", True),
        ("client_cpu_pct", True),
    ],
    "sustain": [("max_rate_per_s", False), ("max_deliveries_per_s", False)],
    "private": [
        ("delivered_pct", False),
        ("p50_ms", True),
        ("p99_ms", True),
        ("connect_s", True),
        ("connect_failures", True),
        ("server_cpu_pct", True),
        ("listed", False),
        ("socket_rooms_frame_ms", True),
        ("page_ms", True),
    ],
    "roundtrip": [
        ("delivered_pct", False),
        ("p50_ms", True),
        ("p99_ms", True),
        ("all_members_p99_ms", True),
        ("server_cpu_pct", True),
        ("cpu_ms_per_message", True),
        ("loop_thread_pct", True),
        ("db_thread_pct", True),
        ("max_rate_per_s", False),
        ("stored", False),
        ("stored_duplicates", True),
        ("client_cpu_pct", True),
    ],
    "idle": [("sockets", False), ("kb_per_socket", True), ("idle_cpu_pct", True)],
    "storm": [
        ("joined", False),
        ("failures", True),
        ("all_joined_s", True),
        ("rounds_s", True),
        ("cpu_ms_per_connect", True),
        ("speedup_vs_1_proc", False),
    ],
    "serve": [
        ("delivered_pct", False),
        ("p50_ms", True),
        ("p99_ms", True),
        ("deliveries_per_s", False),
        ("max_rate_per_s", False),
        ("server_cpu_pct", True),
        ("cpu_ms_per_message", True),
        ("client_cpu_pct", True),
    ],
    "reconnect": [
        ("all_back_s", True),
        ("back_p50_s", True),
        ("back_p90_s", True),
        ("retries", True),
        ("posted", False),
        ("messages_missing", True),
        ("stored_duplicates", True),
    ],
    "scaleout": [
        ("delivered_pct", False),
        ("p99_ms", True),
        ("deliveries_per_s", False),
        ("speedup_vs_1_proc", False),
        ("server_cpu_pct", True),
        ("client_cpu_pct", True),
    ],
    "notify": [
        ("delivered_pct", False),
        ("p50_ms", True),
        ("p99_ms", True),
        ("all_members_p50_ms", True),
        ("all_members_p99_ms", True),
        ("messages_reaching_all_pct", False),
        ("server_cpu_pct", True),
    ],
    "game": [
        ("moves", False),
        ("moves_per_s", False),
        ("p50_ms", True),
        ("p99_ms", True),
        ("max_ms", True),
        ("rejected_legal_moves", True),
        ("missing_deliveries", True),
        ("server_cpu_pct", True),
    ],
    "arena": [
        ("tick_p50_ms", True),
        ("tick_p99_ms", True),
        ("tick_p99_vs_target", True),
        ("input_p50_ms", True),
        ("input_p99_ms", True),
        ("bytes_per_client_s", True),
        ("cpu_pct_per_arena", True),
        ("arenas_held", False),
        ("failover_max_s", True),
        ("ticks_lost_max", True),
        ("errors", True),
    ],
    "notify_cost": [
        ("send_ms_p50", True),
        ("send_ms_max", True),
        ("rows_written", True),
        ("unread_count_ms", True),
        ("inbox_page_ms", True),
    ],
    "updates": [
        ("delivered_pct", False),
        ("p50_ms", True),
        ("p99_ms", True),
        ("all_members_p99_ms", True),
        ("messages_reaching_all_pct", False),
        ("server_cpu_pct", True),
    ],
    "reading": [
        ("delivered_pct", False),
        ("p50_ms", True),
        ("p99_ms", True),
        ("all_members_p99_ms", True),
        ("server_cpu_pct", True),
    ],
    "chat_cost": [
        ("ms_p50", True),
        ("ms_max", True),
        ("queries", True),
        ("rows_written_per_member", True),
        ("common_word_ms", True),
        ("rare_word_ms", True),
        ("two_words_ms", True),
    ],
}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _ratio(ours: Any, peer: Any) -> str:
    """Ours over the peer's, or "-" (a blank cell would shift the columns after it)."""
    if not isinstance(ours, int | float) or not isinstance(peer, int | float) or not peer:
        return "-"
    return f"{ours / peer:.2f}x"


def _line(cells: list[Any], widths: list[int]) -> str:
    return "  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(cells)).rstrip()


def table(data: dict[str, Any]) -> str:
    rows = data["results"]
    machine = data["machine"]
    lines = [
        f"rtsite bench, {data['when']} on {machine['cpu']} ({machine['cores']} cores, "
        f"{machine['memory_gb']} GB), Python {machine['python']}, "
        f"ours storing in {machine.get('database', 'sqlite')}",
    ]
    for scenario, columns in COLUMNS.items():
        picked = [r for r in rows if r["scenario"] == scenario]
        if not picked:
            continue
        lines.append("")
        lines.append(f"## {scenario}")
        header = ["variant", "stack", *(name for name, _ in columns)]
        table_rows = []
        for row in picked:
            if "error" in row:
                table_rows.append([row["variant"], row["stack"], row["error"]])
                continue
            table_rows.append(
                [row["variant"], row["stack"], *(_fmt(row.get(n)) for n, _ in columns)]
            )
            if row["stack"] != "ours":
                ours = next(
                    (r for r in picked if r["stack"] == "ours" and r["variant"] == row["variant"]),
                    None,
                )
                if ours and "error" not in ours:
                    table_rows.append(
                        [
                            "",
                            f"ours/{row['stack']}",
                            *(_ratio(ours.get(n), row.get(n)) for n, _ in columns),
                        ]
                    )
        widths = [
            max(len(str(r[i])) if i < len(r) else 0 for r in [header, *table_rows])
            for i in range(len(header))
        ]
        lines.extend(_line(row, widths) for row in [header, *table_rows])
    return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    """One row of the table in docs/performance.md: our figure against Tornado's in the
    same run (a ratio at most ``ratio``), or against a bound of its own."""

    figure: str
    scenario: str
    ours: str  # how our row's variant ends (its size may be a tiny run's)
    peer: str | None  # how Tornado's row's variant ends (None: no peer figure)
    column: str
    ratio: float | None = None  # ours / Tornado's at most this
    at_most: float | None = None  # ours at most this
    at_least: float | None = None  # ours at least this


TARGETS = [
    Target(
        "20 subscribers at 10/s, p50 ms",
        "fanout",
        "20 subs @ 10/s",
        "20 subs @ 10/s",
        "p50_ms",
        ratio=2.0,
    ),
    Target(
        "20 subscribers at 10/s, p99 ms",
        "fanout",
        "20 subs @ 10/s",
        "20 subs @ 10/s",
        "p99_ms",
        ratio=2.5,
    ),
    Target(
        "200 subscribers at 50/s, p99 ms",
        "fanout",
        "200 subs @ 50/s",
        "200 subs @ 50/s",
        "p99_ms",
        ratio=1.5,
    ),
    Target(
        "1,000 logged-in sockets at once, cached, s",
        "storm",
        "logged in at once, cached",
        "visitors at once",
        "all_joined_s",
        ratio=3.0,
    ),
    Target(
        "the same, cache cold, s",
        "storm",
        "logged in at once, cache cold",
        "visitors at once",
        "all_joined_s",
        ratio=6.0,
    ),
    Target(
        "1,000 visitors' sockets at once, s",
        "storm",
        "visitors at once",
        "visitors at once",
        "all_joined_s",
        ratio=2.0,
    ),
    Target(
        "idle memory per socket (2,000 sockets), KB",
        "idle",
        "idle sockets",
        "idle sockets",
        "kb_per_socket",
        ratio=1.4,
        at_most=20.0,
    ),
    Target(
        "server CPU per stored message, 50 rooms x 20 at 100/s, ms",
        "roundtrip",
        "50 rooms x 20 users @ 100/s",
        "50 rooms x 20 users @ 100/s",
        "cpu_ms_per_message",
        ratio=3.0,
    ),
    Target(
        "5,000 sockets of a killed process back on the survivor, s",
        "reconnect",
        "sockets, their process killed",
        "sockets, their process killed",
        "all_back_s",
        at_most=10.0,
    ),
    Target(
        "  messages lost meanwhile",
        "reconnect",
        "sockets, their process killed",
        None,
        "messages_missing",
        at_most=0,
    ),
    Target(
        "make serve, 2 processes / 1: connect storm",
        "storm",
        "logged in at once, cached, 2 proc",
        None,
        "speedup_vs_1_proc",
        at_least=1.8,
    ),
    Target(
        "make serve, 2 processes / 1: stored round trips held",
        "serve",
        "2 proc / 1 proc",
        None,
        "max_rate_per_s",
        at_least=1.8,
    ),
]


def targets(data: dict[str, Any]) -> str:
    """The performance targets (docs/performance.md's table): each figure, Tornado's in
    the same run, the ratio, the target and whether it is met."""
    rows = data["results"]

    def find(scenario: str, variant: str | None, stack: str) -> Any:
        if variant is None:
            return None
        return next(
            (
                r
                for r in rows
                if r["scenario"] == scenario
                and r["variant"].endswith(variant)
                and r["stack"] == stack
            ),
            None,
        )

    header = ["figure", "tornado", "ours", "ratio", "target", "met"]
    table_rows = []
    for target in TARGETS:
        ours_row = find(target.scenario, target.ours, "ours")
        if ours_row is None:
            continue
        peer_row = find(target.scenario, target.peer, "tornado")
        ours = ours_row.get(target.column)
        peer = peer_row.get(target.column) if peer_row else None
        wanted, met = [], []
        if target.ratio is not None:
            wanted.append(f"<= {target.ratio:g}x")
            if isinstance(ours, int | float) and isinstance(peer, int | float) and peer:
                met.append(ours / peer <= target.ratio)
        if target.at_most is not None:
            wanted.append(f"<= {target.at_most:g}")
            if isinstance(ours, int | float):
                met.append(ours <= target.at_most)
        if target.at_least is not None:
            wanted.append(f">= {target.at_least:g}")
            if isinstance(ours, int | float):
                met.append(ours >= target.at_least)
        verdict = "-" if not met else ("yes" if all(met) else "no")
        if target.ratio is not None and target.at_most is not None and len(met) == 2:
            verdict = "yes" if any(met) else "no"  # either bound will do
        table_rows.append(
            [
                target.figure,
                _fmt(peer),
                _fmt(ours),
                _ratio(ours, peer),
                " or ".join(wanted),
                verdict,
            ]
        )
    if not table_rows:
        return ""
    widths = [max(len(str(r[i])) for r in [header, *table_rows]) for i in range(len(header))]
    lines = ["", "## targets (docs/performance.md)"]
    lines.extend(_line(row, widths) for row in [header, *table_rows])
    return "\n".join(lines)
