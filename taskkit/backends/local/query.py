"""Query evaluation for the embedded document store, following Firestore's rules.

A document lacking a filtered or ordered field does not match (as in Firestore); values of different
kinds never compare equal and are not ordered against each other.
"""

from __future__ import annotations

import functools
from typing import Any

from taskkit.backends.base import Query, Snapshot

_MISSING = object()


def field_value(data: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted field path, or a sentinel when absent."""
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _kind(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        return 1
    if isinstance(value, int | float):
        return 2
    if isinstance(value, str):
        return 3
    return 4


def _compare(a: Any, b: Any) -> int:
    ka, kb = _kind(a), _kind(b)
    if ka != kb:
        return -1 if ka < kb else 1
    if ka in (1, 2, 3):
        return -1 if a < b else (1 if a > b else 0)
    return 0


def _matches(data: dict[str, Any], field: str, op: str, expected: Any) -> bool:
    value = field_value(data, field)
    if value is _MISSING:
        return False
    if op == "in":
        return any(_kind(value) == _kind(e) and value == e for e in expected)
    if op in ("==", "!="):
        equal = _kind(value) == _kind(expected) and value == expected
        return equal if op == "==" else not equal
    if _kind(value) != _kind(expected):
        return False
    order = _compare(value, expected)
    return {"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[op]


def run_query(snapshots: list[Snapshot], query: Query) -> list[Snapshot]:
    """Filter, order and limit `snapshots` as `query` asks."""
    hits = [s for s in snapshots if all(_matches(s.data, f, op, v) for f, op, v in query.filters)]
    hits = [s for s in hits if all(field_value(s.data, f) is not _MISSING for f, _ in query.order_by)]

    def cmp(a: Snapshot, b: Snapshot) -> int:
        for name, direction in query.order_by:
            order = _compare(field_value(a.data, name), field_value(b.data, name))
            if order:
                return order if direction == "asc" else -order
        return -1 if a.path < b.path else (1 if a.path > b.path else 0)

    hits.sort(key=functools.cmp_to_key(cmp))
    return hits[: query.limit] if query.limit else hits
