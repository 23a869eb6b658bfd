"""What each reliability test measured, printed together at the end of the run."""

from __future__ import annotations

FIGURES: list[str] = []


def report(line: str) -> None:
    FIGURES.append(line.strip())
    print(f"\n{line.strip()}")
