"""Voicebanks as people download them: a .zip holding a folder with character.txt somewhere inside.

Extraction is defensive, since the archive comes from a stranger: member names that are absolute, hold ``..``,
a drive or a backslash escape are refused, as are links and special files; the member count, each member's size
and the total are bounded (counted while copying, not trusted from the header, so a zip bomb stops early). The
archive unpacks into ``<cache_dir>/<sha256 of the zip>/`` through a temporary folder renamed at the end, so a
crash leaves no half-extracted bank and a second call reuses the first extraction.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from singer_tasks.errors import VoiceConfigError
from singer_tasks.voices.voicebank.character import CHARACTER_TXT

MAX_MEMBERS = 20_000
MAX_MEMBER_BYTES = 2 << 30  # 2 GiB: the largest real acoustic graphs are a few hundred MB
MAX_TOTAL_BYTES = 8 << 30
_CHUNK = 1 << 20


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's name; archives made on Japanese/Chinese Windows store names in the local code page."""
    name = info.filename
    if not info.flag_bits & 0x800:
        raw = name.encode("cp437", errors="replace")
        for encoding in ("utf-8", "cp932", "gbk"):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                continue
    return name


def _safe_parts(zip_path: Path, name: str) -> tuple[str, ...]:
    """Path parts of a member, refusing anything that could land outside the extraction folder."""
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise VoiceConfigError(f"{zip_path}: member {name!r} has an absolute or Windows path; refused")
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    if any(p == ".." for p in parts):
        raise VoiceConfigError(f"{zip_path}: member {name!r} climbs out of the archive with '..'; refused")
    return parts


def _copy_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int, zip_path: Path) -> int:
    """Copy one member, counting real bytes against the per-member and remaining total limits."""
    limit = min(MAX_MEMBER_BYTES, budget)
    written = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as src, open(target, "wb") as dst:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > limit:
                raise VoiceConfigError(f"{zip_path}: member {info.filename!r} exceeds the size limit ({limit} bytes)")
            dst.write(chunk)
    return written


def _extract_all(zip_path: Path, archive: zipfile.ZipFile, dest: Path) -> None:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise VoiceConfigError(f"{zip_path}: {len(infos)} members, more than the limit of {MAX_MEMBERS}")
    budget = MAX_TOTAL_BYTES
    for info in infos:
        name = _member_name(info)
        parts = _safe_parts(zip_path, name)
        mode = (info.external_attr >> 16) & 0xFFFF
        kind = stat.S_IFMT(mode)  # 0 when the archiver stored no type (plain file)
        if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
            raise VoiceConfigError(f"{zip_path}: member {name!r} is a link or special file; refused")
        if not parts or info.is_dir():
            continue
        budget -= _copy_member(archive, info, dest.joinpath(*parts), budget, zip_path)


def extract_zip(zip_path: Path, cache_dir: Path) -> Path:
    """Unpack `zip_path` under `cache_dir` (once; reused after) and return the extraction folder."""
    if not zipfile.is_zipfile(zip_path):
        raise VoiceConfigError(f"{zip_path}: not a zip archive")
    digest = hashlib.sha256()
    with open(zip_path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    dest = cache_dir / digest.hexdigest()[:32]
    if dest.is_dir():
        return dest
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=cache_dir))
    try:
        with zipfile.ZipFile(zip_path) as archive:
            _extract_all(zip_path, archive, tmp)
        try:
            os.replace(tmp, dest)
        except OSError:
            if not dest.is_dir():  # another process won the race: use its copy
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def find_voicebank_root(folder: Path) -> Path:
    """The folder holding character.txt: the shallowest one; two at that depth are ambiguous and refused."""
    found = sorted(folder.rglob(CHARACTER_TXT), key=lambda p: (len(p.relative_to(folder).parts), str(p)))
    if not found:
        raise VoiceConfigError(f"{folder}: no {CHARACTER_TXT} found (OpenUtau finds voicebanks by it)")
    depth = len(found[0].relative_to(folder).parts)
    shallowest = [p for p in found if len(p.relative_to(folder).parts) == depth]
    if len(shallowest) > 1:
        raise VoiceConfigError(f"{folder}: several voicebanks inside ({[str(p.parent) for p in shallowest]})")
    return found[0].parent
