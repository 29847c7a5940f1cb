"""Write the runtime requirements of pyproject.toml, less some, as a pip requirements file.

The images install dependencies from this list instead of installing the project itself, so a
source change does not rebuild the dependency layer, and the api image can leave out the render
stack (torch, music21, ...) that it must never import.

    python deploy/requirements_from_pyproject.py pyproject.toml requirements.txt --exclude torch music21
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class RequirementsError(Exception):
    """Raised when pyproject.toml cannot give a requirement list."""


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements(pyproject: Path, exclude: set[str]) -> list[str]:
    """The [project] dependencies of `pyproject`, minus the projects named in `exclude`."""
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise RequirementsError(f"cannot read {pyproject}: {e}") from e
    deps = data.get("project", {}).get("dependencies")
    if not isinstance(deps, list):
        raise RequirementsError(f"{pyproject} has no [project] dependencies list")
    wanted = {canonical(n) for n in exclude}
    kept: list[str] = []
    for dep in deps:
        match = _NAME.match(dep)
        if match is None:
            raise RequirementsError(f"{pyproject}: cannot read a project name from {dep!r}")
        if canonical(match.group(1)) not in wanted:
            kept.append(dep)
    unknown = wanted - {canonical(m.group(1)) for d in deps if (m := _NAME.match(d))}
    if unknown:
        raise RequirementsError(f"--exclude names projects that are not dependencies: {sorted(unknown)}")
    return kept


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("pyproject", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--exclude", nargs="*", default=[], help="project names to leave out")
    args = parser.parse_args(argv)
    try:
        lines = runtime_requirements(args.pyproject, set(args.exclude))
    except RequirementsError as e:
        print(f"requirements_from_pyproject: {e}", file=sys.stderr)
        return 2
    args.output.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
