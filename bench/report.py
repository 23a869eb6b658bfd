"""The terminal table: each scenario, our row beside each peer's, with ratios."""

from __future__ import annotations

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
        ("server_peak_rss_mb", True),
        ("client_cpu_pct", True),
    ],
    "sustain": [("max_rate_per_s", False), ("max_deliveries_per_s", False)],
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
    "storm": [("joined", False), ("failures", True), ("all_joined_s", True)],
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
    if not isinstance(ours, int | float) or not isinstance(peer, int | float) or not peer:
        return ""
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
