"""The SPA's job types and error words follow the API's OpenAPI document: the TypeScript unions of
job status, stage, render type and expression list exactly the document's enum values, and every
error code the domain can answer with (Problem.code) has words in web/src/api/errors.ts or is listed
there as API-only."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from api.main import create_app
from singer_tasks.errors import SingerError
from singer_tasks.jobs.model import JobStage, JobStatus
from singer_tasks.settings import SingerSettings
from taskkit import Kit
from tests.taskkit.conftest import REPO

TYPES_TS = REPO / "web" / "src" / "api" / "types.ts"
ERRORS_TS = REPO / "web" / "src" / "api" / "errors.ts"
QUOTED = re.compile(r"'([^']*)'")


@pytest.fixture
def openapi(kit: Kit, service_settings: SingerSettings) -> dict[str, Any]:
    document: dict[str, Any] = create_app(kit, service_settings).openapi()
    return document


def ts_union(name: str) -> list[str]:
    """The string literals of `export type <name> = 'a' | 'b';` in types.ts."""
    match = re.search(rf"export type {name} =([^;]+);", TYPES_TS.read_text(encoding="utf-8"))
    assert match, f"{TYPES_TS.name} declares no `export type {name}`"
    return QUOTED.findall(match.group(1))


def ts_array(text: str, name: str) -> list[str]:
    """The string literals of `export const <name> ... = [ ... ]`."""
    match = re.search(rf"export const {name}\b[^=]*=\s*\[([^\]]*)\]", text)
    assert match, f"no `export const {name} = [...]`"
    return QUOTED.findall(match.group(1))


def schema_enum(openapi: dict[str, Any], name: str) -> list[str]:
    values: list[str] = openapi["components"]["schemas"][name]["enum"]
    return values


def all_codes() -> set[str]:
    codes, pending = set(), [SingerError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return codes


def test_job_status_and_stage_are_enums_of_the_model(openapi: dict[str, Any]) -> None:
    job = openapi["components"]["schemas"]["Job"]["properties"]
    assert job["status"] == {"$ref": "#/components/schemas/JobStatus"}
    progress = openapi["components"]["schemas"]["Progress"]["properties"]
    assert progress["stage"] == {"$ref": "#/components/schemas/JobStage"}
    assert schema_enum(openapi, "JobStatus") == [s.value for s in JobStatus]
    assert schema_enum(openapi, "JobStage") == [s.value for s in JobStage]


@pytest.mark.parametrize(
    ("ts_name", "schema"), [("JobStatus", "JobStatus"), ("JobStage", "JobStage"), ("Expression", "Expression")]
)
def test_typescript_unions_list_exactly_the_enum_values(openapi: dict[str, Any], ts_name: str, schema: str) -> None:
    assert ts_union(ts_name) == schema_enum(openapi, schema)


def test_typescript_render_type_and_value_lists(openapi: dict[str, Any]) -> None:
    assert ts_union("RenderType") == openapi["components"]["schemas"]["Job"]["properties"]["renderType"]["enum"]
    text = TYPES_TS.read_text(encoding="utf-8")
    assert ts_array(text, "JOB_STATUSES") == schema_enum(openapi, "JobStatus")
    assert ts_array(text, "JOB_STAGES") == schema_enum(openapi, "JobStage")


def test_the_openapi_document_publishes_every_error_code(openapi: dict[str, Any]) -> None:
    code = openapi["components"]["schemas"]["Problem"]["properties"]["code"]
    enums = [branch["enum"] for branch in code["anyOf"] if "enum" in branch]
    assert len(enums) == 1 and set(enums[0]) == all_codes()


def test_the_api_alone_publishes_the_codes_the_worker_can_store(tmp_path: Path) -> None:
    # The API process imports neither the render tasks nor the score reader: an error class defined
    # outside singer_tasks/errors.py is missing from its document although a failed job may carry it.
    import singer_tasks.render.tasks  # noqa: F401 - the worker's whole tree of errors

    script = (
        "import json\n"
        "from api.main import create_app\n"
        "code = create_app().openapi()['components']['schemas']['Problem']['properties']['code']\n"
        "print(json.dumps([c for b in code['anyOf'] for c in b.get('enum', [])]))\n"
    )
    env = {"TASKKIT_BACKEND": "local", "TASKKIT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    published = set(json.loads(out.stdout.strip().splitlines()[-1]))
    missing = all_codes() - published
    assert not missing, f"define these errors in singer_tasks/errors.py, so the API publishes them: {sorted(missing)}"


def test_every_error_code_has_words_in_the_spa_or_is_api_only(openapi: dict[str, Any]) -> None:
    text = ERRORS_TS.read_text(encoding="utf-8")
    block = re.search(r"export const JOB_ERRORS\b[^=]*=\s*\{(.*?)\n\};", text, re.S)
    assert block, "errors.ts declares no `export const JOB_ERRORS = {...};`"
    job_errors = set(re.findall(r"^\s+([a-z_]+):", block.group(1), re.M))
    api_only = set(ts_array(text, "API_ONLY_ERRORS"))
    code = openapi["components"]["schemas"]["Problem"]["properties"]["code"]
    published = {c for branch in code["anyOf"] for c in branch.get("enum", [])}
    missing = published - job_errors - api_only
    assert not missing, f"error codes without words in web/src/api/errors.ts: {sorted(missing)}"
    assert not job_errors & api_only, f"both a job error and API-only: {sorted(job_errors & api_only)}"
    assert api_only <= published, f"API_ONLY_ERRORS names codes nothing raises: {sorted(api_only - published)}"
    assert {"input_missing", "dead_lettered"} <= job_errors  # the render task's and taskkit's own
