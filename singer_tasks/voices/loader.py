"""Voices by name: loaded once per process and reused, and checked against the phrases before a render.

A voice not found under the voices dir is fetched from the bucket (`voices/<name>...`, see `remote`) when the
caller passes a blob store, as the render tasks do.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from singer_tasks.errors import RenderInputError, VoiceNotFound
from singer_tasks.phrase import Phrase
from singer_tasks.settings import get_settings
from singer_tasks.voices import runtime
from singer_tasks.voices.manifest import VoiceManifest, find_manifest
from singer_tasks.voices.models import BuiltinVoice, DiffSingerVoice, Voice
from taskkit.backends.base import BlobStore

_lock = threading.Lock()
_voices: dict[tuple[str, str], Voice] = {}
_loading: dict[tuple[str, str], threading.Lock] = {}  # a lock per voice while it loads


def resolve_manifest(voice: str | Path, root: Path | None = None, blobs: BlobStore | None = None) -> VoiceManifest:
    """The voice's manifest: local (name or path), else fetched from the bucket when `blobs` is given."""
    try:
        return find_manifest(str(voice), root)
    except VoiceNotFound:
        if blobs is None:
            raise
        from singer_tasks.voices.remote import fetch_voice

        fetched = fetch_voice(blobs, str(voice), get_settings().voice_cache_dir)
        if fetched is None:
            raise
        return find_manifest(str(fetched.resolve()))


def voice_from_manifest(manifest: VoiceManifest) -> Voice:
    """Load the models of a voice (builtin, diffsinger, voicebank)."""
    if manifest.kind == "builtin":
        return BuiltinVoice(manifest)
    if manifest.kind == "voicebank":
        from singer_tasks.voices.bank_voice import VoicebankVoice

        settings = get_settings()
        return VoicebankVoice(
            manifest, threads=runtime.onnx_threads(), cache_dir=settings.voice_cache_dir / "extracted",
            vocoder_dir=settings.voices_dir,
        )  # fmt: skip
    return DiffSingerVoice(manifest)


def load_voice(voice: str | Path = "builtin", root: Path | None = None, blobs: BlobStore | None = None) -> Voice:
    """Load a voice by name (under the voices dir, or in the bucket with `blobs`) or by path; see
    `singer_tasks.voices.manifest`."""
    return voice_from_manifest(resolve_manifest(voice, root, blobs))


def require_phrases(voice: Voice, phrases: Sequence[Phrase]) -> None:
    """Check every phrase before rendering any (a missing phoneme fails the job at once)."""
    if not phrases:
        raise RenderInputError("there are no phrases to render")
    for phrase in phrases:
        voice.check_phrase(phrase)


def get_voice(voice: str | Path = "builtin", root: Path | None = None, blobs: BlobStore | None = None) -> Voice:
    """The voice, loaded once per process and reused (thread-safe)."""
    key = (str(voice), str(root or ""))
    with _lock:
        cached = _voices.get(key)
        loading = _loading.setdefault(key, threading.Lock())
    if cached is not None:
        return cached
    # One load per voice: a worker's warm-up and its first phrase may ask at the same moment.
    with loading:
        with _lock:
            cached = _voices.get(key)
        if cached is not None:
            return cached
        runtime.configure_torch_once()
        loaded = load_voice(voice, root, blobs)
        with _lock:
            return _voices.setdefault(key, loaded)


def loaded_voices() -> list[tuple[str, str]]:
    """The (voice, root) pairs this process has loaded."""
    with _lock:
        return sorted(_voices)


def clear_voice_cache() -> None:
    """Forget every loaded voice (tests, or after replacing a voice's files)."""
    with _lock:
        _voices.clear()
