"""firebase.json, firestore.rules and storage.rules, read as text.

The rules' behaviour is exercised against Google's Firestore emulator by the web app's tests;
these checks pin what must hold whatever the SPA does: no client write rule is ever true.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.infra.tfmodel import REPO

_ALLOW = re.compile(r"allow\s+([a-z, ]+?)\s*:\s*if\s+(.+?);", re.DOTALL)
_WRITES = {"write", "create", "update", "delete"}


def _rules(name: str) -> str:
    text = (REPO / name).read_text(encoding="utf-8")
    return re.sub(r"//[^\n]*", "", text)  # comments may quote rule syntax


def _allows(text: str) -> list[tuple[set[str], str]]:
    return [({m.strip() for m in ops.split(",")}, " ".join(cond.split())) for ops, cond in _ALLOW.findall(text)]


def test_firebase_json_points_at_the_rules_and_the_built_spa() -> None:
    config = json.loads((REPO / "firebase.json").read_text(encoding="utf-8"))
    assert config["firestore"] == {"rules": "firestore.rules", "indexes": "firestore.indexes.json"}
    assert config["storage"] == [{"target": "main", "rules": "storage.rules"}]
    assert config["hosting"]["public"] == "web/dist"
    assert {"source": "**", "destination": "/index.html"} in config["hosting"]["rewrites"]
    assert config["emulators"]["firestore"]["port"] == 8088  # docs/testing.md


def test_firestore_rules_never_let_a_client_write() -> None:
    allows = _allows(_rules("firestore.rules"))
    assert allows, "no allow statements parsed"
    for ops, condition in allows:
        if ops & _WRITES:
            assert condition == "false", (ops, condition)


def test_firestore_rules_reads_are_owner_only() -> None:
    text = _rules("firestore.rules")
    reads = [(ops, cond) for ops, cond in _allows(text) if ops & {"read", "get", "list"} and cond != "false"]
    assert len(reads) == 3  # the user document, her ledger entries, her jobs
    conditions = {cond for _, cond in reads}
    assert "signedIn() && request.auth.uid == uid" in conditions
    assert "signedIn() && resource.data.userId == request.auth.uid" in conditions
    assert re.search(r"match /users/\{uid\} \{\s*allow get: if signedIn\(\) && request.auth.uid == uid;", text)
    assert re.search(r"match /jobs/\{jobId\} \{\s*allow read: if signedIn\(\) && resource.data.userId", text)
    assert re.search(r"match /ledger/\{entryId\} \{\s*allow read: if signedIn\(\) && request.auth.uid == uid;", text)
    assert "taskkit" not in text.split("match /{document=**}")[0], "no rule may open a taskkit_* collection"


def test_storage_rules_allow_only_owner_uploads() -> None:
    text = _rules("storage.rules")
    opened = [(ops, cond) for ops, cond in _allows(text) if cond != "false"]
    assert len(opened) == 1
    ops, condition = opened[0]
    assert ops == {"create"}
    assert "request.auth.uid == uid" in condition
    assert "request.resource.contentType in" in condition
    assert re.search(r"match /uploads/\{uid\}/\{fileName\} \{\s*allow create:", text)
    for prefix in ("jobs", "intermediate", "cache"):
        assert f"match /{prefix}/" not in text, f"clients never touch {prefix}/"


def test_storage_rules_limits_match_the_apis_upload_limits() -> None:
    """A Firebase SDK upload may not be larger, or of another type, than a signed upload."""
    condition = next(cond for ops, cond in _allows(_rules("storage.rules")) if ops == {"create"})
    size = re.search(r"request\.resource\.size <= (\d+)", condition)
    types = set(re.findall(r"'([a-z0-9./+-]+)'", condition.split("contentType in", 1)[1]))
    if not (REPO / "api" / "routes" / "uploads.py").is_file():
        pytest.skip("api/routes/uploads.py does not exist yet")
    from api.routes.uploads import CONTENT_TYPES
    from singer_tasks.settings import SingerSettings

    assert size and int(size.group(1)) == SingerSettings().max_upload_bytes
    assert types == set(CONTENT_TYPES.values())
    extensions = re.search(r"\[\.\]\(([a-z|]+)\)", condition)
    assert extensions and {f".{e}" for e in extensions.group(1).split("|")} == set(CONTENT_TYPES)
