"""Generators of bad client frames: invalid JSON and UTF-8, wrong types, unknown types,
huge numbers, deep nesting, and known frame types with wrong fields.

Two forms of the same grammar: a hypothesis strategy (for property tests of the parser)
and a seeded generator (to stream thousands of frames into live sockets).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping
from typing import Any

from hypothesis import strategies as st

from realtime.protocol import ClientSpec

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _wrong_for(kind: type) -> st.SearchStrategy[Any]:
    """A JSON value that is not of ``kind`` (an int field also refuses bools and floats)."""
    return JSON_VALUES.filter(
        lambda v: not isinstance(v, kind) or (kind is int and isinstance(v, bool))
    )


def bad_frames(frames: Mapping[str, ClientSpec]) -> st.SearchStrategy[str]:
    known = sorted(frames)
    with_fields = [f for f in frames.values() if f.fields]
    not_json = st.text(max_size=60).filter(lambda t: not _is_json_object(t))
    not_object = JSON_VALUES.filter(lambda v: not isinstance(v, dict)).map(json.dumps)
    no_type = st.dictionaries(st.sampled_from(["typ", "kind", "ref", "x"]), JSON_VALUES, max_size=3)
    bad_type = st.builds(
        lambda t, extra: json.dumps({"type": t, **extra}),
        JSON_VALUES.filter(lambda v: not isinstance(v, str) or v not in known),
        st.dictionaries(st.text(max_size=5), JSON_SCALARS, max_size=2),
    )
    deep = st.integers(min_value=50, max_value=100_000).map(lambda n: "[" * n + "]" * n)
    surrogates = st.text(
        alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=5
    )
    bad_utf8 = surrogates.map(lambda s: '{"type": "ping", "ref": "' + s + '"')
    strategies = [not_json, not_object, no_type.map(json.dumps), bad_type, deep, bad_utf8]
    if with_fields:

        def wrong_field(spec: ClientSpec) -> st.SearchStrategy[str]:
            names = sorted(spec.fields)
            return (
                st.sampled_from(names)
                .flatmap(
                    lambda name: _wrong_for(spec.fields[name].kind).map(
                        lambda value: json.dumps({"type": spec.type, name: value})
                    )
                )
                .filter(lambda text: _invalid_for(text, spec))
            )

        strategies.append(st.sampled_from(with_fields).flatmap(wrong_field))
    return st.one_of(*strategies)


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def _invalid_for(text: str, spec: ClientSpec) -> bool:
    """A wrong value for an optional field that is null is simply absent: not bad."""
    data = json.loads(text)
    return any(data.get(name) is not None for name in spec.fields)


def stream(frames: Mapping[str, ClientSpec], count: int, seed: int) -> Iterator[str]:
    """``count`` bad frames from a seeded generator (deterministic, fast)."""
    rng = random.Random(seed)
    known = sorted(frames)
    with_fields = [f for f in frames.values() if f.fields]

    def value(depth: int = 0) -> Any:
        pick = rng.randrange(8 if depth < 3 else 5)
        if pick == 0:
            return None
        if pick == 1:
            return rng.choice([True, False])
        if pick == 2:
            return rng.choice([rng.randint(-(2**70), 2**70), 10**30, -1, 0, 2**63])
        if pick == 3:
            return rng.choice([1.5, -0.0, 1e308, float("inf"), float("nan")])
        if pick == 4:
            return "".join(
                rng.choice('ab\\"{}[]\u00e9\u4e2d\U0001f600') for _ in range(rng.randrange(10))
            )
        if pick in (5, 6):
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return {str(rng.randrange(100)): value(depth + 1) for _ in range(rng.randrange(4))}

    makers = [
        lambda: "".join(rng.choice('{}[]":,abc1 \\') for _ in range(rng.randrange(1, 40))),
        lambda: json.dumps(rng.choice([[], 1, "ping", None, True, [{"type": "ping"}]])),
        lambda: json.dumps({"kind": "ping", "x": value()}),
        lambda: json.dumps(
            {"type": rng.choice([1, None, [], {}, "nope", "PING", " ping", "x" * 300])}
        ),
        lambda: "[" * (n := rng.randrange(50, 50_000)) + "]" * n,
        lambda: '{"type": "ping", "ref": "\ud800' + "x" * rng.randrange(5) + '"}',
        lambda: '{"type": "ping", "ref": "\\udc00' + "x" * rng.randrange(5) + '"}',
        lambda: json.dumps({"type": "ping", "ref": rng.choice([1, [], "r" * 65, {"a": 1}])}),
    ]
    if with_fields:

        def wrong() -> str:
            spec = rng.choice(with_fields)
            name = rng.choice(sorted(spec.fields))
            kind = spec.fields[name].kind
            while True:
                candidate = value()
                ok = isinstance(candidate, kind) and not (
                    kind is int and isinstance(candidate, bool)
                )
                if not ok and candidate is not None:
                    return json.dumps({"type": spec.type, name: candidate})

        makers.append(wrong)
    for _ in range(count):
        yield rng.choice(makers)()
    del known
