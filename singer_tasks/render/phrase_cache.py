"""The phrase cache: a rendered phrase stored under a key of everything that decides its samples.

Key material: the phrase itself (every field at full precision but its offset: the same phrase sung at
another time sounds the same), the voice (name, and a hash of every file its manifest names; every file
of a voicebank, or its .zip), the render settings (steps, depth, seed, precision: fast mode's bf16
samples differ from exact fp32, expression and speaker as the voice resolves them),
and the model code (a hash of the source of the modules that turn a phrase into samples). A later job
with an unchanged phrase reuses the stored samples; an edited song renders only the phrases that
changed. Entries are immutable (create-only), so racing writers agree.
Blobs live under `cache/phrases/`, where a lifecycle rule expires them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from singer_tasks.phrase import Phrase
from singer_tasks.render.pipeline import RenderOptions
from singer_tasks.voices.manifest import VoiceManifest
from taskkit.backends.base import BlobStore
from taskkit.errors import AlreadyExists

PREFIX = "cache/phrases"
_PACKAGE = Path(__file__).resolve().parents[1]
# The modules whose code decides a phrase's samples.
_MODEL_SOURCES = ("voices", "render/pipeline.py")
_file_hashes: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()
_code_version: str | None = None


def _hash_file(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _lock:
        if key in _file_hashes:
            return _file_hashes[key]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    with _lock:
        _file_hashes[key] = digest.hexdigest()
    return _file_hashes[key]


def model_code_version() -> str:
    """A hash of the model code's source files (computed once per process)."""
    global _code_version
    if _code_version is None:
        digest = hashlib.sha256()
        for name in _MODEL_SOURCES:
            root = _PACKAGE / name
            for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
                digest.update(path.relative_to(_PACKAGE).as_posix().encode())
                digest.update(path.read_bytes())
        _code_version = digest.hexdigest()[:16]
    return _code_version


def _bank_files(source: Path) -> dict[str, Path]:
    """Every file of a voicebank: the .zip itself, or each file under its folder (by relative path)."""
    if source.is_file():
        return {"voicebank.zip": source}
    return {f"voicebank/{p.relative_to(source).as_posix()}": p for p in sorted(source.rglob("*")) if p.is_file()}


def voice_fingerprint(manifest: VoiceManifest) -> dict[str, Any]:
    """The voice's name and a hash of each file it is made of (for a voicebank: all of its files)."""
    files: dict[str, Path] = {}
    if manifest.bank is not None:
        files.update(_bank_files(manifest.folder))
    if manifest.folder.is_dir() and (manifest.folder / "voice.yaml").is_file():
        files["voice.yaml"] = manifest.folder / "voice.yaml"
    if manifest.acoustic is not None:
        files["acoustic.checkpoint"] = manifest.acoustic.checkpoint
        files["acoustic.config"] = manifest.acoustic.config
        files.update({f"dictionary.{lang}": p for lang, p in manifest.acoustic.dictionaries.items()})
    if manifest.vocoder is not None:
        files["vocoder.checkpoint"] = manifest.vocoder.checkpoint
        files["vocoder.config"] = manifest.vocoder.config
    if manifest.variance is not None:
        files["variance.checkpoint"] = manifest.variance.checkpoint
        files["variance.config"] = manifest.variance.config
        files.update({f"variance.dictionary.{lang}": p for lang, p in manifest.variance.dictionaries.items()})
        if manifest.variance.spk_map is not None:
            files["variance.spk_map"] = manifest.variance.spk_map
    return {"name": manifest.name, "kind": manifest.kind, "files": {k: _hash_file(p) for k, p in sorted(files.items())}}


def cache_key(
    phrase: Phrase,
    manifest: VoiceManifest,
    *,
    options: RenderOptions,
    seed: int,
    sample_rate: int,
    precision: str,
) -> str:
    """The content key of one rendered phrase."""
    segment = phrase.to_dict()
    segment.pop("offset_s", None)
    material = {
        "phrase": segment,
        "voice": voice_fingerprint(manifest),
        "settings": {
            "steps": options.steps,
            "depth": options.depth,
            "seed": seed,
            "sample_rate": sample_rate,
            "precision": precision,
            "expression": options.expression,
            "speaker": options.speaker,
        },
        "code": model_code_version(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def blob_key(key: str) -> str:
    """Where a cached phrase is stored."""
    return f"{PREFIX}/{key}.f32"


def load(blobs: BlobStore, key: str) -> np.ndarray | None:
    """The cached samples, or None on a miss."""
    if not blobs.exists(blob_key(key)):
        return None
    return np.frombuffer(blobs.get(blob_key(key)), dtype="<f4").astype(np.float32)


def store(blobs: BlobStore, key: str, samples: np.ndarray) -> None:
    """Store samples under `key`; an entry already there (a racing writer) has the same content."""
    with contextlib.suppress(AlreadyExists):
        blobs.put(blob_key(key), samples.astype("<f4").tobytes(), if_absent=True)
