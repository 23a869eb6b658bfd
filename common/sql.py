"""Queries of the hot paths, compiled once.

Django builds a query's SQL again at every call. On the paths every post and every
connect takes, that build costs far more than running the query: locking a room and
checking the author took about 1 ms in the ORM and 0.02 ms once compiled, on SQLite
(docs/performance.md, "Queries compiled once"). A ``Compiled`` query is still written with
the ORM (so it stays portable and readable): it is built once per database vendor with a
stand-in for each parameter, and run afterwards with the SQL it produced and the real
values put in the stand-ins' places. Rows come back as tuples, through the same value
converters Django applies (dates on SQLite, JSON).

Only what is passed as a query parameter can vary: values that Django writes into the
SQL itself (slices, ``LIMIT``) are fixed by the builder. Each stand-in must reach the
SQL unchanged, as ints and strings do; building refuses a query in which one did not.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models.sql import UpdateQuery

# In range for a 32-bit integer column: PostgreSQL's backend turns a lookup of a value out
# of a column's range into "matches nothing" while building the SQL.
_stand_ins = itertools.count(2_147_000_001)


@dataclass(frozen=True)
class _Slot:
    name: str


class _Params:
    """What a builder gets: ``p.room`` is a stand-in for the value passed as ``room=``."""

    def __init__(self, kinds: dict[str, type]) -> None:
        self.values: dict[Any, str] = {}
        for name, kind in kinds.items():
            value: Any = next(_stand_ins)
            if kind is str:
                value = f"\x00rtsite-stand-in-{value}\x00"
            self.values[value] = name
            setattr(self, name, value)


@dataclass(frozen=True)
class _Plan:
    sql: str
    slots: list[Any]  # a _Slot where a parameter goes, else the constant Django passed
    compiler: Any
    converters: dict[int, Any]


class Compiled:
    """A SELECT built by ``build(p)`` from ``p.<name>`` stand-ins, one per keyword of
    ``kinds`` (int or str). ``rows(**values)`` runs it."""

    def __init__(self, build: Callable[[Any], Any], **kinds: type) -> None:
        self.build = build
        self.kinds = kinds
        self.plans: dict[str, _Plan] = {}

    def _plan(self, alias: str) -> _Plan:
        connection = connections[alias]
        plan = self.plans.get(connection.vendor)
        if plan is None:
            params = _Params(self.kinds)
            compiler = self._compiler(params, alias)
            sql, values = compiler.as_sql()
            slots = [
                _Slot(params.values[v]) if _hashable(v) and v in params.values else v
                for v in values
            ]
            missing = set(self.kinds) - {s.name for s in slots if isinstance(s, _Slot)}
            if missing:
                raise ValueError(f"parameters not in the SQL as parameters: {missing}")
            fields = [s[0] for s in (compiler.select or [])[0 : compiler.col_count]]
            plan = _Plan(sql, slots, compiler, compiler.get_converters(fields) if fields else {})
            self.plans[connection.vendor] = plan
        return plan

    def _compiler(self, params: _Params, alias: str) -> Any:
        return self.build(params).query.get_compiler(using=alias)

    def _params(self, plan: _Plan, values: dict[str, Any]) -> list[Any]:
        return [values[s.name] if isinstance(s, _Slot) else s for s in plan.slots]

    def rows(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> list[tuple[Any, ...]]:
        plan = self._plan(using)
        with connections[using].cursor() as cursor:
            cursor.execute(plan.sql, self._params(plan, values))
            rows = cursor.fetchall()
        if plan.converters:
            return [tuple(row) for row in plan.compiler.apply_converters(rows, plan.converters)]
        return rows

    def first(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> tuple[Any, ...] | None:
        rows = self.rows(using=using, **values)
        return rows[0] if rows else None


class CompiledUpdate(Compiled):
    """An UPDATE built by ``build(p)``, which returns the rows to change (a QuerySet) and
    their new values, from ``p.<name>`` stand-ins as for ``Compiled``. ``run(**values)``
    runs it and returns how many rows it changed."""

    def _compiler(self, params: _Params, alias: str) -> Any:
        queryset, changes = self.build(params)
        query = queryset.query.chain(UpdateQuery)
        query.add_update_values(changes)
        compiler = query.get_compiler(using=alias)
        compiler.select, compiler.col_count = None, 0  # it returns no rows
        return compiler

    def run(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> int:
        plan = self._plan(using)
        with connections[using].cursor() as cursor:
            cursor.execute(plan.sql, self._params(plan, values))
            return cursor.rowcount


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
