"""Evaluate a Cloud Logging filter (the small subset terraform/monitoring.tf uses) on a log line.

The infra tests capture the JSON lines the code really writes and check that each log-based metric's
filter selects them. A JSON line on stdout/stderr becomes a log entry the way Cloud Run's logging
agent makes it: `severity`, `httpRequest`, `time` and `logging.googleapis.com/trace` move to the entry;
everything else, `message` included, stays in `jsonPayload`.

Supported: terms joined by AND; `field="v"`, `field=("a" OR "b")`, `field=~"regex"`, `field!="v"`,
`field=N` (numbers compare as numbers); fields are dotted paths (`jsonPayload.message`,
`httpRequest.status`, `resource.labels.service_name`). Anything else raises, so a filter this module
does not understand fails the test instead of passing it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_TERM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!=|=)\s*(.+?)\s*$")
_QUOTED = re.compile(r'^"((?:[^"\\]|\\.)*)"$')
_ENTRY_FIELDS = {"severity": "severity", "httpRequest": "httpRequest", "time": "timestamp"}
TRACE_FIELD = "logging.googleapis.com/trace"


class FilterError(Exception):
    """Raised when a filter uses syntax this evaluator does not support."""


def log_entry(line: Mapping[str, Any], resource: Mapping[str, Any]) -> dict[str, Any]:
    """The log entry Cloud Run makes of one JSON line written by a service described by `resource`."""
    entry: dict[str, Any] = {"resource": dict(resource), "jsonPayload": {}}
    for key, value in line.items():
        if key in _ENTRY_FIELDS:
            entry[_ENTRY_FIELDS[key]] = value
        elif key == TRACE_FIELD:
            entry["trace"] = value
        else:
            entry["jsonPayload"][key] = value
    return entry


def cloud_run_resource(service: str) -> dict[str, Any]:
    """The monitored resource of a Cloud Run service's logs."""
    return {"type": "cloud_run_revision", "labels": {"service_name": service, "revision_name": f"{service}-00001"}}


def _split_and(text: str) -> list[str]:
    """Split at top-level ` AND ` (not inside quotes or parentheses)."""
    terms, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quoted:
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and text.startswith(" AND ", i):
            terms.append(text[start:i])
            start = i + 5
            i += 5
            continue
        i += 1
    terms.append(text[start:])
    return terms


def _string(token: str) -> str:
    match = _QUOTED.match(token.strip())
    if not match:
        raise FilterError(f"expected a quoted string, got {token!r}")
    return str(json.loads(f'"{match.group(1)}"'))


def _values(token: str) -> list[Any]:
    token = token.strip()
    if token.startswith("(") and token.endswith(")"):
        return [_string(part) for part in token[1:-1].split(" OR ")]
    if token.startswith('"'):
        return [_string(token)]
    try:
        return [float(token)]
    except ValueError as e:
        raise FilterError(f"unsupported value {token!r}") from e


def _lookup(entry: Mapping[str, Any], path: str) -> Any:
    value: Any = entry
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float):
        try:
            return float(actual) == expected
        except (TypeError, ValueError):
            return False
    return actual is not None and str(actual) == expected


def term_matches(entry: Mapping[str, Any], term: str) -> bool:
    """Whether one `field op value` term holds for `entry`."""
    match = _TERM.match(term)
    if not match:
        raise FilterError(f"unsupported term {term!r}")
    path, op, raw = match.groups()
    actual = _lookup(entry, path)
    if op == "=~":
        return actual is not None and re.search(_string(raw), str(actual)) is not None
    hit = any(_equal(actual, expected) for expected in _values(raw))
    return hit if op == "=" else not hit


def matches(filter_text: str, entry: Mapping[str, Any]) -> bool:
    """Whether the filter selects the entry."""
    return all(term_matches(entry, term) for term in _split_and(filter_text))


def extract(expression: str, entry: Mapping[str, Any]) -> Any:
    """The value of a label or value extractor `EXTRACT(field)` for `entry` (None if absent)."""
    match = re.fullmatch(r"EXTRACT\(([A-Za-z_][A-Za-z0-9_.]*)\)", expression)
    if not match:
        raise FilterError(f"unsupported extractor {expression!r}")
    return _lookup(entry, match.group(1))
