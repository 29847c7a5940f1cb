"""Every resource and data block in terraform/ against the google providers' schema, offline.

The schema (resource types, arguments, nested blocks, required arguments) comes from the npm packages
cdktf generates from the provider at the version terraform/versions.tf's floor allows
(tests/infra/provider_schema.py; `nox -s infra` fetches it into a cache). Caught here, before any
`terraform plan`: an unknown resource type, an argument or block the provider does not have at that
version (a misspelling, or one added in a later release), and a missing required argument.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.infra.provider_schema import CACHE_VARIABLE, PACKAGES, PROVIDER_VERSION, cache_dir, schema_path
from tests.infra.tfmodel import REPO, TERRAFORM_DIR, Terraform, load

FIXTURES = Path(__file__).parent / "fixtures" / "schema"
# Meta-arguments Terraform itself takes on every resource or data block (not the provider's).
META = {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"}
Schemas = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    found = {provider: schema_path(cache_dir(), provider) for provider in PACKAGES}
    missing = [str(p) for p in found.values() if not p.is_file()]
    if missing:
        pytest.skip(
            f"provider schemas not fetched ({', '.join(missing)}): `nox -s infra` fetches them, or run "
            f"`python -m tests.infra.provider_schema` (set {CACHE_VARIABLE} to choose the folder)"
        )
    return {provider: json.loads(path.read_text(encoding="utf-8")) for provider, path in found.items()}


def _provider_of(body: Mapping[str, Any]) -> str:
    """Which provider a block uses: its `provider = google-beta` meta-argument, else google."""
    named = str(body.get("provider", "google")).removeprefix("${").removesuffix("}")
    return named.split(".", 1)[0]


def _check_block(body: Mapping[str, Any], schema: Mapping[str, Any], where: str) -> Iterator[str]:
    """Problems of one block body against its schema, recursively (dynamic blocks included)."""
    attributes, blocks = schema["attributes"], schema["blocks"]
    present = set(body)
    for entry in body.get("dynamic", []):
        for name, spec in entry.items():
            present.add(name)
            if name not in blocks:
                yield f"{where}: unknown dynamic block {name!r}"
                continue
            for content in spec.get("content", []):
                yield from _check_block(content, blocks[name], f"{where}.{name}")
    for key, value in body.items():
        if key == "dynamic" or key in META or key in attributes:
            continue
        if key in blocks:
            for index, nested in enumerate(value if isinstance(value, list) else [value]):
                if isinstance(nested, Mapping):
                    yield from _check_block(nested, blocks[key], f"{where}.{key}[{index}]")
            continue
        yield f"{where}: unknown argument or block {key!r}"
    for name, spec in attributes.items():
        if spec["required"] and name not in present:
            yield f"{where}: missing required argument {name!r}"
    for name, spec in blocks.items():
        if spec["required"] and name not in present:
            yield f"{where}: missing required block {name!r}"


def problems(tf: Terraform, schemas: Schemas) -> list[str]:
    """Every schema problem of a parsed terraform folder."""
    found = []
    for kind, declared in (("resources", tf.resources), ("data", tf.data)):
        for rtype, by_name in declared.items():
            for name, body in by_name.items():
                provider = _provider_of(body)
                where = f"{'data.' if kind == 'data' else ''}{rtype}.{name}"
                if provider not in schemas:
                    found.append(f"{where}: provider {provider!r} has no schema here")
                    continue
                schema = schemas[provider][kind].get(rtype)
                if schema is None:
                    found.append(f"{where}: {provider} {PROVIDER_VERSION} has no {kind[:-1]} type {rtype!r}")
                    continue
                found.extend(_check_block(body, schema, where))
    return found


def test_every_block_in_terraform_matches_the_provider_schema(tf: Terraform, schemas: Schemas) -> None:
    assert sum(len(v) for v in tf.resources.values()) > 40, "parsed too few resources: wrong folder?"
    found = problems(tf, schemas)
    assert not found, "terraform/ does not match the provider schema:\n" + "\n".join(found)


def test_a_misspelled_argument_a_missing_one_and_an_unknown_type_are_caught(schemas: Schemas) -> None:
    found = problems(load(FIXTURES), schemas)
    expected = [
        "google_cloud_run_v2_service.typo: unknown argument or block 'locaton'",
        "google_cloud_run_v2_service.typo: missing required argument 'location'",
        "google_cloud_run_v2_service.typo.template[0].containers[0]: unknown argument or block 'imag'",
        "google_cloud_run_v2_service.typo.template[0]: unknown dynamic block 'volume'",
        "google_pubsub_subscription.no_topic: missing required argument 'topic'",
        "google_storage_bukket.nope: google 6.28.0 has no resource type 'google_storage_bukket'",
        "google_firebase_web_appp.beta: google-beta 6.28.0 has no resource type 'google_firebase_web_appp'",
    ]
    for problem in expected:
        assert any(f.startswith(problem) or f == problem for f in found), f"not caught: {problem}\n{found}"
    # The well-formed blocks of the fixture give no false alarm.
    assert not [f for f in found if f.startswith("google_cloud_run_v2_service.ok")]


def test_gpu_arguments_exist_at_the_provider_floor(schemas: Schemas) -> None:
    """The GPU worker's template arguments arrived in google 6.28.0: the floor in versions.tf."""
    template = schemas["google"]["resources"]["google_cloud_run_v2_service"]["blocks"]["template"]
    assert "node_selector" in template["blocks"] and "gpu_zonal_redundancy_disabled" in template["attributes"]
    versions = (TERRAFORM_DIR / "versions.tf").read_text(encoding="utf-8")
    floors = re.findall(r'(?m)^\s*version\s*=\s*">=\s*([0-9.]+)', versions)
    assert floors == [PROVIDER_VERSION.rsplit(".", 1)[0]] * 2, f"provider floors {floors} vs the checked schema"


def test_the_schema_is_the_one_the_nox_session_fetches() -> None:
    noxfile = (REPO / "noxfile.py").read_text(encoding="utf-8")
    assert "tests.infra.provider_schema" in noxfile and CACHE_VARIABLE in noxfile
