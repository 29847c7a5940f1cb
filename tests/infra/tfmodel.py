"""A small read-only model of terraform/*.tf, parsed with python-hcl2, for the infra tests.

python-hcl2 gives blocks as lists of dicts and expressions as "${...}" strings; this module
flattens that into `resource(type, name)`, variable defaults, locals, and a few helpers that
resolve simple references (`var.x`, `local.x`, `tostring(var.x)`) to their default values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"

_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False)
_SIMPLE_REF = re.compile(r"^\$\{(?:tostring\()?(var|local)\.([A-Za-z0-9_]+)\)?\}$")
_INLINE_REF = re.compile(r"\$\{(var|local)\.([A-Za-z0-9_]+)\}")


class TerraformModelError(Exception):
    """Raised when the terraform files do not have the shape a test expects."""


def parse_file(path: Path) -> dict[str, Any]:
    """Parse one .tf file; a syntax error names the file."""
    try:
        with path.open(encoding="utf-8") as handle:
            return dict(hcl2.load(handle, serialization_options=_OPTIONS))
    except Exception as e:  # python-hcl2 raises lark errors of several kinds
        raise TerraformModelError(f"{path}: cannot parse: {e}") from e


def strip_comments(value: Any) -> Any:
    """Drop python-hcl2's `__comments__` entries, recursively."""
    if isinstance(value, dict):
        return {k: strip_comments(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [strip_comments(v) for v in value]
    return value


def block(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The single nested block `name` of a body (blocks parse as one-element lists)."""
    value = body.get(name)
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        raise TerraformModelError(f"expected exactly one {name!r} block, found {value!r}")
    return dict(value[0])


def blocks(body: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """All nested blocks `name` of a body (possibly none)."""
    value = body.get(name, [])
    if not isinstance(value, list):
        raise TerraformModelError(f"expected {name!r} blocks, found {value!r}")
    return [dict(v) for v in value]


def dynamic_blocks(body: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """The `dynamic "name"` blocks of a body, each as {"for_each": ..., "content": [...]}."""
    found = []
    for entry in body.get("dynamic", []):
        if name in entry:
            found.append(dict(entry[name]))
    return found


@dataclass(frozen=True)
class Terraform:
    """Everything declared in one terraform folder."""

    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def resource(self, rtype: str, name: str) -> dict[str, Any]:
        """The body of resource `rtype.name`."""
        try:
            return self.resources[rtype][name]
        except KeyError as e:
            raise TerraformModelError(f"no resource {rtype}.{name} in {TERRAFORM_DIR}") from e

    def all_resources(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(type, name, body) of every resource."""
        for rtype, by_name in self.resources.items():
            for name, body in by_name.items():
                yield rtype, name, body

    def default(self, variable: str) -> Any:
        """The default value of `var.variable`."""
        try:
            return self.variables[variable]["default"]
        except KeyError as e:
            raise TerraformModelError(f"variable {variable!r} has no default") from e

    def resolve(self, value: Any, given: Mapping[str, Any] | None = None) -> Any:
        """Resolve `${var.x}`, `${tostring(var.x)}` and `${local.x}` (and inline uses) to defaults.

        `given` supplies variables that have no default. References to resources stay as they
        are: their values exist only after an apply.
        """
        if not isinstance(value, str):
            return value
        match = _SIMPLE_REF.match(value)
        if match:
            resolved = self._lookup(match.group(1), match.group(2), given)
            if value.startswith("${tostring("):
                return str(resolved)
            return self.resolve(resolved, given)
        return _INLINE_REF.sub(lambda m: str(self.resolve(self._lookup(m.group(1), m.group(2), given), given)), value)

    def _lookup(self, kind: str, name: str, given: Mapping[str, Any] | None) -> Any:
        if kind == "var":
            if given and name in given:
                return given[name]
            return self.default(name)
        if name not in self.locals:
            raise TerraformModelError(f"no local {name!r}")
        return self.locals[name]


def _add_blocks(path: Path, kind: str, entries: list[Any], target: dict[str, dict[str, dict[str, Any]]]) -> None:
    for entry in entries:
        for rtype, by_name in entry.items():
            for name, body in by_name.items():
                if name in target.setdefault(rtype, {}):
                    raise TerraformModelError(f"{path}: {kind} {rtype}.{name} declared twice")
                target[rtype][name] = body


def _add_named(path: Path, kind: str, entries: list[Any], target: dict[str, Any]) -> None:
    for entry in entries:
        for name, body in entry.items():
            if name in target:
                raise TerraformModelError(f"{path}: {kind} {name} declared twice")
            target[name] = body


def load(directory: Path = TERRAFORM_DIR) -> Terraform:
    """Parse every .tf file of `directory` into one model; duplicate names are an error."""
    model = Terraform()
    files = sorted(directory.glob("*.tf"))
    if not files:
        raise TerraformModelError(f"no .tf files in {directory}")
    for path in files:
        parsed = strip_comments(parse_file(path))
        _add_blocks(path, "resource", parsed.get("resource", []), model.resources)
        _add_blocks(path, "data", parsed.get("data", []), model.data)
        _add_named(path, "variable", parsed.get("variable", []), model.variables)
        _add_named(path, "output", parsed.get("output", []), model.outputs)
        _add_named(path, "local", parsed.get("locals", []), model.locals)
    return model


def duration_s(value: str) -> float:
    """Seconds of a Google duration string such as "600s"."""
    if not value.endswith("s"):
        raise TerraformModelError(f"not a duration in seconds: {value!r}")
    return float(value[:-1])
