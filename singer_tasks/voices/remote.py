"""Voices kept in the bucket: `voices/<name>.zip` or the files under `voices/<name>/`, fetched on first use.

Production images carry no voices; a worker asked for a voice it does not have locally copies it from the
blob store into `settings.voice_cache_dir` (`<cache>/remote/<name>` or `<cache>/remote/<name>.zip`) and loads
it from there. The copy is atomic: files go to a temporary name in the same folder, renamed into place at the
end, so a crash or a racing worker never leaves a half-copied voice (a racing worker's finished copy wins).
The worker needs read access to the `voices/` prefix only (see docs/voices.md).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from singer_tasks.errors import VoiceConfigError
from taskkit.backends.base import BlobStore

PREFIX = "voices"


def remote_dir(cache_dir: Path) -> Path:
    """Where fetched voices live."""
    return cache_dir / "remote"


def _check_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
        raise VoiceConfigError(f"{name!r} is not a voice name that can be fetched (no slashes or leading dots)")


def _safe_relative(key: str, prefix: str) -> PurePosixPath:
    rel = PurePosixPath(key[len(prefix) :])
    if rel.is_absolute() or any(p in ("", ".", "..") for p in rel.parts):
        raise VoiceConfigError(f"blob {key!r} has a path that would leave the voice's folder; refused")
    return rel


def cached_voice(name: str, cache_dir: Path) -> Path | None:
    """The fetched copy of `name`, if there is one."""
    base = remote_dir(cache_dir)
    for candidate in (base / name, base / f"{name}.zip"):
        if candidate.exists():
            return candidate
    return None


def fetch_voice(blobs: BlobStore, name: str, cache_dir: Path) -> Path | None:
    """The local copy of voice `name` from `voices/` in the bucket (fetched now if needed); None if absent."""
    _check_name(name)
    found = cached_voice(name, cache_dir)
    if found is not None:
        return found
    base = remote_dir(cache_dir)
    base.mkdir(parents=True, exist_ok=True)
    zip_key = f"{PREFIX}/{name}.zip"
    if blobs.exists(zip_key):
        target = base / f"{name}.zip"
        fd, tmp = tempfile.mkstemp(prefix=".fetch-", suffix=".zip", dir=base)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(blobs.get(zip_key))
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return target
    prefix = f"{PREFIX}/{name}/"
    keys = [k for k in blobs.list(prefix) if not k.endswith("/")]
    if not keys:
        return None
    target = base / name
    tmp_dir = Path(tempfile.mkdtemp(prefix=".fetch-", dir=base))
    try:
        for key in keys:
            path = tmp_dir.joinpath(*_safe_relative(key, prefix).parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(blobs.get(key))
        try:
            os.replace(tmp_dir, target)
        except OSError:
            if not target.is_dir():  # not a racing worker's finished copy: a real failure
                raise
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir, ignore_errors=True)
    return target
