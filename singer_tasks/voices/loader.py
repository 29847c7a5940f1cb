"""Voices by name: loaded once per process and reused, and checked against the phrases before a render."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from singer_tasks.errors import RenderInputError
from singer_tasks.phrase import Phrase
from singer_tasks.voices import runtime
from singer_tasks.voices.manifest import find_manifest
from singer_tasks.voices.models import BuiltinVoice, DiffSingerVoice, Voice

_lock = threading.Lock()
_voices: dict[tuple[str, str], Voice] = {}


def load_voice(voice: str | Path = "builtin", root: Path | None = None) -> Voice:
    """Load a voice by name (a folder under the voices dir) or by path; see `singer_tasks.voices.manifest`."""
    manifest = find_manifest(str(voice), root)
    if manifest.kind == "builtin":
        return BuiltinVoice(manifest)
    return DiffSingerVoice(manifest)


def require_phrases(voice: Voice, phrases: Sequence[Phrase]) -> None:
    """Check every phrase before rendering any (a missing phoneme fails the job at once)."""
    if not phrases:
        raise RenderInputError("there are no phrases to render")
    for phrase in phrases:
        voice.check_phrase(phrase)


def get_voice(voice: str | Path = "builtin", root: Path | None = None) -> Voice:
    """The voice, loaded once per process and reused (thread-safe)."""
    key = (str(voice), str(root or ""))
    with _lock:
        cached = _voices.get(key)
    if cached is not None:
        return cached
    runtime.configure_torch_once()
    loaded = load_voice(voice, root)
    with _lock:
        return _voices.setdefault(key, loaded)


def clear_voice_cache() -> None:
    """Forget every loaded voice (tests, or after replacing a voice's files)."""
    with _lock:
        _voices.clear()
