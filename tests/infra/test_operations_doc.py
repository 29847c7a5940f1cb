"""docs/operations.md: every `python -m ...` command it shows exists and takes the options it uses.

Each command is cut at its first argument that is not a subcommand (a placeholder, a number, a
file), run with `--help` in a fresh interpreter, and every `--option` the doc writes after it must
appear in that help.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from tests.infra.tfmodel import REPO

DOC = REPO / "docs" / "operations.md"
_SUBCOMMAND = re.compile(r"^[a-z][a-z-]*$")


def _commands() -> list[str]:
    """The `python -m` commands of the doc's code blocks, one per line (continuations joined)."""
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```\n(.*?)```", text, re.DOTALL)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    return [line.strip() for line in lines if line.strip().startswith("python -m ")]


def _split(command: str) -> tuple[list[str], list[str]]:
    """(module and subcommands, the --options used) of one command."""
    words = shlex.split(command.replace("<", "'<").replace(">", ">'"))[2:]
    head = [words[0]]
    for word in words[1:]:
        if not _SUBCOMMAND.match(word):
            break
        head.append(word)
    options = [w.split("=", 1)[0] for w in words if w.startswith("--")]
    return head, options


def test_the_doc_shows_the_operator_commands() -> None:
    heads = {" ".join(_split(c)[0]) for c in _commands()}
    assert {"taskkit dead-letters list", "taskkit dead-letters replay", "singer_tasks credits grant"} <= heads


@pytest.mark.parametrize("command", sorted({c for c in _commands()}))
def test_each_command_exists_with_its_options(command: str) -> None:
    head, options = _split(command)
    done = subprocess.run(
        [sys.executable, "-m", *head, "--help"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"`python -m {' '.join(head)} --help` failed: {done.stderr[-1500:]}"
    for option in options:
        assert option in done.stdout, f"{command}: `python -m {' '.join(head)}` has no {option}"
