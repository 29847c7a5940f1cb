"""Size and length limits for user scores, taken from the settings at the edge.

Defaults fit a Cloud Run worker (a few GiB of memory, a 600 s push deadline): a MusicXML file of a
long song is well under 5 MB, and ten minutes of singing renders inside the deadline when fanned out.
"""

from __future__ import annotations

from dataclasses import dataclass

from singer_tasks.settings import SingerSettings

_DEFAULTS = SingerSettings.model_construct()  # the settings' defaults, without reading the environment


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

    max_score_bytes: int = _DEFAULTS.max_upload_bytes
    max_xml_bytes: int = _DEFAULTS.max_xml_bytes
    max_compression_ratio: float = 100.0
    max_archive_members: int = 64
    max_song_s: float = _DEFAULTS.max_song_seconds
    max_notes: int = _DEFAULTS.max_notes
    max_xml_notes: int = 100_000

    @classmethod
    def from_settings(cls, settings: SingerSettings) -> ScoreLimits:
        """The limits `settings` set (SINGER_MAX_UPLOAD_BYTES, _MAX_XML_BYTES, _MAX_SONG_SECONDS, _MAX_NOTES)."""
        return cls(
            max_score_bytes=settings.max_upload_bytes,
            max_xml_bytes=settings.max_xml_bytes,
            max_song_s=settings.max_song_seconds,
            max_notes=settings.max_notes,
        )
