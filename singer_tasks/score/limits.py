"""Size and length limits for user scores, read from the environment at the edge.

Defaults fit a Cloud Run worker (a few GiB of memory, a 600 s push deadline): a MusicXML file of a
long song is well under 5 MB, and ten minutes of singing renders inside the deadline when fanned out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from singer_tasks.score.model import ScoreError


@dataclass(frozen=True)
class ScoreLimits:
    """Limits applied while reading a score.

    max_score_bytes: the uploaded file (compressed size for .mxl).
    max_xml_bytes: the uncompressed MusicXML inside an .mxl.
    max_compression_ratio: uncompressed/compressed per archive member (zip bombs reach 1000+).
    max_archive_members: entries in an .mxl archive.
    max_song_s: length of the sung line after repeats are expanded.
    max_notes: notes in the sung line.
    max_xml_notes: <note> elements in the whole file (all parts), checked before music21 builds the
    score, so a huge orchestral file is refused before it costs minutes of parsing.
    """

    max_score_bytes: int = 5_000_000
    max_xml_bytes: int = 30_000_000
    max_compression_ratio: float = 100.0
    max_archive_members: int = 64
    max_song_s: float = 900.0
    max_notes: int = 20_000
    max_xml_notes: int = 100_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ScoreLimits:
        """Defaults overridden by SINGER_MAX_SCORE_BYTES, SINGER_MAX_XML_BYTES, SINGER_MAX_SONG_SECONDS,
        SINGER_MAX_NOTES; raises ScoreError naming a variable that is not a positive number."""
        env = os.environ if environ is None else environ
        base = cls()
        return cls(
            max_score_bytes=int(_read(env, "SINGER_MAX_SCORE_BYTES", base.max_score_bytes)),
            max_xml_bytes=int(_read(env, "SINGER_MAX_XML_BYTES", base.max_xml_bytes)),
            max_compression_ratio=base.max_compression_ratio,
            max_archive_members=base.max_archive_members,
            max_song_s=_read(env, "SINGER_MAX_SONG_SECONDS", base.max_song_s),
            max_notes=int(_read(env, "SINGER_MAX_NOTES", base.max_notes)),
            max_xml_notes=base.max_xml_notes,
        )


def _read(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as e:
        raise ScoreError(f"{name}={raw!r} is not a number; set it to a positive number or unset it") from e
    if value <= 0:
        raise ScoreError(f"{name}={raw!r} must be positive; set it to a positive number or unset it")
    return value
