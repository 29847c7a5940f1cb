"""The google and google-beta providers' schemas, offline, from the npm packages cdktf generates from them.

`@cdktf/provider-google` (and `-beta`) are generated from the provider's own schema; their jsii manifest
(`package/.jsii`) holds, for every resource and data source, a config struct per block: each property is
an argument or a nested block, with `optional` false when the provider requires it. The Terraform name
of each type and argument is in the property's registry link (`.../docs/resources/cloud_run_v2_service
#node_selector`).

`python -m tests.infra.provider_schema CACHE_DIR` (run by `nox -s infra`) fetches the packages with
`npm pack` (the only network use, npm's registry), reads their manifest and writes a compact schema per
provider to CACHE_DIR/<provider>-<version>.json; the tests read that file and never touch the network.

Compact schema: {"provider": ..., "version": ..., "resources": {type: BLOCK}, "data": {type: BLOCK}};
BLOCK = {"attributes": {name: {"required": bool}}, "blocks": {name: BLOCK + {"required": bool}}}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

# Provider version -> the cdktf package generated from it (`npm view @cdktf/provider-google@X
# cdktf.provider.version`). 6.28.0 is the floor terraform/versions.tf allows.
PROVIDER_VERSION = "6.28.0"
PACKAGES = {
    "google": ("@cdktf/provider-google", "14.27.0"),
    "google-beta": ("@cdktf/provider-google-beta", "14.27.0"),
}
DEFAULT_CACHE = Path.home() / ".cache" / "ai-singer" / "provider-schema"
CACHE_VARIABLE = "INFRA_PROVIDER_SCHEMA_DIR"

_TYPE_LINK = re.compile(
    r"\{@link https://registry\.terraform\.io/providers/hashicorp/[a-z-]+/[0-9.]+/docs/"
    r"(resources|data-sources)/\w+ (\w+)\}"
)
_ARG_LINK = re.compile(r"docs/(?:resources|data-sources)/\w+#(\w+) ")
_BASES = {"cdktf.TerraformResource": "resources", "cdktf.TerraformDataSource": "data"}


class SchemaError(Exception):
    """Raised when a package does not hold the manifest this module reads."""


def cache_dir() -> Path:
    """Where the compact schemas live (the infra nox session sets INFRA_PROVIDER_SCHEMA_DIR)."""
    return Path(os.environ.get(CACHE_VARIABLE) or DEFAULT_CACHE)


def schema_path(directory: Path, provider: str) -> Path:
    """The compact schema file of `provider` at PROVIDER_VERSION."""
    return directory / f"{provider}-{PROVIDER_VERSION}.json"


def _snake(camel: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", camel).lower()


def _argument_name(prop: dict[str, Any]) -> str:
    """The Terraform name of a config property: from its registry link, else from its camelCase name."""
    docs = prop.get("docs", {})
    match = _ARG_LINK.search(docs.get("remarks", "") + " " + docs.get("summary", ""))
    return match.group(1) if match else _snake(prop["name"])


def _struct_of(type_ref: dict[str, Any], assembly: str) -> str | None:
    """The fqn of the nested-block struct a property holds (a struct, or a list of structs), or None."""
    if "fqn" in type_ref:
        return str(type_ref["fqn"]) if type_ref["fqn"].startswith(assembly + ".") else None
    if "collection" in type_ref:
        return _struct_of(type_ref["collection"]["elementtype"], assembly)
    if "union" in type_ref:
        for member in type_ref["union"]["types"]:
            found = _struct_of(member, assembly)
            if found:
                return found
    return None


def _block(types: dict[str, Any], fqn: str, assembly: str, depth: int = 0) -> dict[str, Any]:
    if depth > 20:
        raise SchemaError(f"{fqn}: nesting deeper than 20 levels (a cycle?)")
    struct = types[fqn]
    attributes: dict[str, Any] = {}
    blocks: dict[str, Any] = {}
    for prop in struct.get("properties", []):
        name = _argument_name(prop)
        required = not prop.get("optional", False)
        nested = _struct_of(prop["type"], assembly)
        if nested and types[nested].get("datatype"):
            blocks[name] = {**_block(types, nested, assembly, depth + 1), "required": required}
        else:
            attributes[name] = {"required": required}
    return {"attributes": attributes, "blocks": blocks}


def compact(manifest: dict[str, Any], provider: str) -> dict[str, Any]:
    """The compact schema of every resource and data source in a cdktf provider's jsii manifest."""
    types: dict[str, Any] = manifest["types"]
    assembly = str(manifest["name"])
    out: dict[str, Any] = {"provider": provider, "version": PROVIDER_VERSION, "resources": {}, "data": {}}
    for klass in types.values():
        kind = _BASES.get(klass.get("base", ""))
        if kind is None:
            continue
        match = _TYPE_LINK.search(klass.get("docs", {}).get("summary", ""))
        if not match:
            raise SchemaError(f"{klass['fqn']}: no registry link naming its Terraform type")
        config = [p for p in klass["initializer"]["parameters"] if p["name"] == "config"]
        if not config:
            raise SchemaError(f"{klass['fqn']}: no config parameter")
        out[kind][match.group(2)] = _block(types, config[0]["type"]["fqn"], assembly)
    if not out["resources"]:
        raise SchemaError(f"{assembly}: no resources found in its manifest")
    return out


def _read_manifest(tarball: Path) -> dict[str, Any]:
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/.jsii")
        if member is None:
            raise SchemaError(f"{tarball} has no package/.jsii")
        return dict(json.load(member))


def fetch(directory: Path) -> list[Path]:
    """Make sure both compact schemas exist under `directory` (npm pack only for missing ones)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for provider, (package, version) in PACKAGES.items():
        target = schema_path(directory, provider)
        if not target.is_file():
            with tempfile.TemporaryDirectory() as scratch:
                subprocess.run(
                    ["npm", "pack", f"{package}@{version}", "--silent", "--pack-destination", scratch],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                [tarball] = Path(scratch).glob("*.tgz")
                schema = compact(_read_manifest(tarball), provider)
            partial = target.with_suffix(".tmp")
            partial.write_text(json.dumps(schema, separators=(",", ":"), sort_keys=True), encoding="utf-8")
            partial.replace(target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fetch the google providers' schemas (npm) into a cache folder.")
    parser.add_argument("directory", type=Path, nargs="?", default=None, help=f"default: {DEFAULT_CACHE}")
    args = parser.parse_args(argv)
    for path in fetch(args.directory or cache_dir()):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
