"""Size and length limits for user scores, taken from the settings at the edge.

Defaults fit a Cloud Run worker (a few GiB of memory, a 600 s push deadline): a MusicXML file of a
long song is well under 5 MB, and ten minutes of singing renders inside the deadline when fanned out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from singer_tasks.errors import ParseTimeExceeded
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
    max_notes: notes in the sung line; before music21 runs, no part may hold more sung notes than this
    (notes that start a sound: rests, chord members, grace notes and tied continuations not counted),
    so a score whose every candidate line is too long is refused before it costs minutes of parsing.
    max_xml_notes: <note> elements in the whole file (all parts), checked before music21 builds the
    score (SINGER_MAX_PARSE_NOTES): what music21 may be asked to read inside the parse budget.
    parse_budget_s: seconds the whole parse stage may take (`ParseClock`); past it the score fails
    for good with ParseTimeExceeded (a ScoreError: the render task does not retry it).
    """

    max_score_bytes: int = _DEFAULTS.max_upload_bytes
    max_xml_bytes: int = _DEFAULTS.max_xml_bytes
    max_compression_ratio: float = 100.0
    max_archive_members: int = 64
    max_song_s: float = _DEFAULTS.max_song_seconds
    max_notes: int = _DEFAULTS.max_notes
    max_xml_notes: int = _DEFAULTS.max_parse_notes
    parse_budget_s: float = _DEFAULTS.parse_budget_s

    @classmethod
    def from_settings(cls, settings: SingerSettings) -> ScoreLimits:
        """The limits `settings` set (SINGER_MAX_UPLOAD_BYTES, _MAX_XML_BYTES, _MAX_SONG_SECONDS, _MAX_NOTES)."""
        return cls(
            max_score_bytes=settings.max_upload_bytes,
            max_xml_bytes=settings.max_xml_bytes,
            max_song_s=settings.max_song_seconds,
            max_notes=settings.max_notes,
            max_xml_notes=settings.max_parse_notes,
            parse_budget_s=settings.parse_budget_s,
        )

    def clock(self) -> ParseClock:
        """A clock for one parse, started now."""
        return ParseClock(self.parse_budget_s)


class ParseClock:
    """The parse budget of one score: call `check(stage)` between the stages of a parse."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self.started = time.monotonic()

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def check(self, stage: str) -> None:
        """Raise ParseTimeExceeded once the budget is spent."""
        elapsed = self.elapsed_s()
        if elapsed > self.budget_s:
            raise ParseTimeExceeded(
                f"reading the score took {elapsed:.0f} s ({stage}), over the parse budget of {self.budget_s:.0f} s; "
                "upload a shorter score, or the vocal part only"
            )
