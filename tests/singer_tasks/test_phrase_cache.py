"""The phrase cache: keys that change with everything that decides the samples and nothing else."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from singer_tasks.phrase import Phrase
from singer_tasks.render import phrase_cache
from singer_tasks.render.pipeline import RenderOptions
from singer_tasks.voices.manifest import BUILTIN_MANIFEST, find_manifest
from taskkit.backends.local.blobs import LocalBlobStore
from tests.singer_tasks.test_voices import _copy_tiny


def phrase(offset_s: float = 0.0, f0: float = 220.0) -> Phrase:
    return Phrase(offset_s, ("SP", "a", "SP"), (0.1, 0.5, 0.1), (3,), ("A3",), (0.7,), (0,), (f0,) * 140)


def key(p: Phrase, **changes: object) -> str:
    settings: dict[str, object] = {"options": RenderOptions(), "seed": 0, "sample_rate": 44100, "precision": "fp32"}
    settings.update(changes)
    manifest = settings.pop("manifest", BUILTIN_MANIFEST)
    return phrase_cache.cache_key(p, manifest, **settings)  # type: ignore[arg-type]


def test_the_offset_does_not_change_the_key_but_the_content_does() -> None:
    assert key(phrase(0.0)) == key(phrase(12.5))  # the same phrase sung later sounds the same
    assert key(phrase(f0=220.0)) != key(phrase(f0=221.0))
    assert key(phrase()) != key(dataclasses.replace(phrase(), lang="en"))


@pytest.mark.parametrize(
    "change",
    [
        {"options": RenderOptions(steps=8)},
        {"options": RenderOptions(depth=0.5)},
        {"options": RenderOptions(expression="score")},
        {"options": RenderOptions(speaker="alto")},
        {"seed": 1},
        {"sample_rate": 24000},
        {"precision": "bf16"},
    ],
)
def test_every_render_setting_changes_the_key(change: dict[str, object]) -> None:
    assert key(phrase(), **change) != key(phrase())


def test_a_changed_voice_file_changes_the_key(tmp_path: Path) -> None:
    folder = _copy_tiny(tmp_path)
    before = key(phrase(), manifest=find_manifest(str(folder)))
    assert key(phrase(), manifest=find_manifest(str(folder))) == before
    config = folder / "acoustic" / "config.yaml"
    config.write_text(config.read_text() + "\n# edited\n")
    assert key(phrase(), manifest=find_manifest(str(folder))) != before


def test_store_and_load_round_trip_and_racing_writers_agree(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs", b"k" * 32, "http://127.0.0.1:1")
    k = key(phrase())
    assert phrase_cache.load(blobs, k) is None
    samples = np.linspace(-1, 1, 1000, dtype=np.float32)
    phrase_cache.store(blobs, k, samples)
    phrase_cache.store(blobs, k, samples)  # a racing writer with the same content: no error
    loaded = phrase_cache.load(blobs, k)
    assert loaded is not None and loaded.dtype == np.float32 and np.array_equal(loaded, samples)
    assert phrase_cache.blob_key(k).startswith("cache/phrases/")
