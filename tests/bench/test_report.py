"""bench/report.py: the tables `make bench` prints, from a run's rows."""

from bench.report import targets


def _storm(stack: str, variant: str, seconds: float) -> dict[str, object]:
    return {"scenario": "storm", "stack": stack, "variant": variant, "all_joined_s": seconds}


def _cells(printed: str, figure: str) -> list[str]:
    line = next(line for line in printed.splitlines() if line.startswith(figure))
    return line[len(figure) :].split()


def test_a_ratio_that_cannot_be_computed_keeps_its_column() -> None:
    """A tiny run's Tornado can join in no measurable time: its ratio is "-", and the
    target and verdict stay in their columns (a blank cell shifted them left)."""
    printed = targets(
        {
            "results": [
                _storm("ours", "5 visitors at once", 0.012),
                _storm("tornado", "5 visitors at once", 0.0),
            ]
        }
    )
    assert _cells(printed, "1,000 visitors' sockets at once, s") == [
        "0",
        "0.012",
        "-",
        "<=",
        "2x",
        "-",
    ]


def test_each_target_has_tornados_figure_the_ratio_and_the_verdict() -> None:
    printed = targets(
        {
            "results": [
                _storm("ours", "1000 visitors at once", 0.5),
                _storm("tornado", "1000 visitors at once", 0.2),
                _storm("ours", "1000 logged in at once, cached", 0.5),
            ]
        }
    )
    assert _cells(printed, "1,000 visitors' sockets at once, s") == [
        "0.2",
        "0.5",
        "2.50x",
        "<=",
        "2x",
        "no",
    ]
    assert _cells(printed, "1,000 logged-in sockets at once, cached, s") == [
        "0.2",
        "0.5",
        "2.50x",
        "<=",
        "3x",
        "yes",
    ]
