"""How many sockets a worker over its share hands back (``realtime.server.rebalance``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from realtime.server.rebalance import to_hand_back


def test_the_worker_holding_everything_after_a_restart_hands_back_half() -> None:
    assert to_hand_back(200, [0], ratio=1.25, least=4) == 100
    assert to_hand_back(195, [5], ratio=1.25, least=4) == 95
    assert to_hand_back(111, [89], ratio=1.25, least=4) == 0  # within its share
    assert to_hand_back(7, [1], ratio=1.25, least=4) == 0  # too few to move
    assert to_hand_back(50, [], ratio=1.25, least=4) == 0  # alone


@given(
    mine=st.integers(0, 5000),
    others=st.lists(st.integers(0, 5000), max_size=8),
    ratio=st.floats(1.0, 2.0),
    least=st.integers(1, 50),
)
def test_a_hand_back_never_leaves_the_worker_under_the_mean_and_balanced_ones_keep_theirs(
    mine: int, others: list[int], ratio: float, least: int
) -> None:
    count = to_hand_back(mine, others, ratio=ratio, least=least)
    mean = (mine + sum(others)) / (len(others) + 1)
    assert 0 <= count <= mine
    if count:
        assert mine > ratio * mean
        assert mine - count >= mean - 1  # down to the mean, not past it
        assert count >= least - 1
    else:
        assert mine <= ratio * mean or mine - mean < least or not others
