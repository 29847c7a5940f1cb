"""The API must cold-start fast: building it imports neither torch nor music21 (nor the phonemizers)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.taskkit.conftest import REPO

HEAVY = ("torch", "music21", "numpy", "g2p_en", "pypinyin", "singer_tasks.render.tasks", "google.cloud.firestore")


def test_building_the_api_leaves_heavy_modules_unimported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import json, sys\n"
        "from api.main import create_app\n"
        "create_app()\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    env = {"TASKKIT_BACKEND": "local", "TASKKIT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
