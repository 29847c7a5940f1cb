"""The layering rules of docs/architecture.md, checked on the source."""

from __future__ import annotations

import ast

from tests.import_graph import ROOT, cycles, graph, module_files

# Modules allowed to read the process environment: the settings of each package, and the supervisor,
# which hands its environment on to the worker processes it starts.
ENVIRONMENT_READERS = {"taskkit.settings", "singer_tasks.settings", "taskkit.supervisor", "taskkit.__main__"}


def test_no_import_cycles_lazy_imports_included() -> None:
    found = cycles(graph())
    assert not found, "import cycles (python -m tests.import_graph lists every edge): " + "; ".join(
        " <-> ".join(c) for c in found
    )


def test_the_graph_sees_lazy_imports() -> None:
    # A function-level import is an edge too: the CLI imports the render pipeline only when it runs.
    assert "singer_tasks.render.pipeline" in graph()["singer_tasks.cli.render"]


def _reads_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                lines.append(node.lineno)
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in ("environ", "getenv") for alias in node.names)
        ):
            lines.append(node.lineno)
    return lines


def test_only_the_settings_read_the_environment() -> None:
    offenders = []
    for name, path in module_files().items():
        if name in ENVIRONMENT_READERS:
            continue
        lines = _reads_environment(ast.parse(path.read_text(encoding="utf-8")))
        offenders += [f"{path.relative_to(ROOT)}:{line}" for line in lines]
    assert not offenders, f"read the environment outside the settings modules: {offenders}"


def test_the_environment_check_finds_a_reader() -> None:
    assert _reads_environment(ast.parse("import os\nx = os.environ.get('A')\n")) == [2]
    assert _reads_environment(ast.parse("from os import getenv\n")) == [1]
