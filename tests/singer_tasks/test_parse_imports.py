"""The score model, the .ds contract and the stage modules import nothing heavy until used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "module",
    [
        "singer_tasks",
        "singer_tasks.score.model",
        "singer_tasks.phrase",
        "singer_tasks.score.read",
        "singer_tasks.phonemize",
    ],
)
def test_importing_loads_neither_music21_nor_torch(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "heavy = sorted(m for m in ('music21', 'torch', 'g2p_en', 'nltk') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
