"""The score model: what the parse stage hands to the phonemize stage.

Times are absolute seconds from the start of the song (the tempo map is already applied), so nothing
downstream needs to know about measures, divisions or tempo marks. This module imports neither
music21 nor torch: the API may use the error codes below without loading either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Syllabic = Literal["single", "begin", "middle", "end"]


@dataclass(frozen=True)
class Note:
    """One sung note (ties already merged).

    lyric: the syllable text as written (None on a melisma note); syllabic: its place in its word.
    melisma: True when the note continues the previous note's syllable (no lyric under a slur, or an
    extend line). breath_after: the score marks a breath at the end of this note.
    """

    onset_s: float
    duration_s: float
    midi: float
    lyric: str | None = None
    syllabic: Syllabic = "single"
    melisma: bool = False
    breath_after: bool = False

    @property
    def end_s(self) -> float:
        """When the note stops sounding."""
        return self.onset_s + self.duration_s


@dataclass(frozen=True)
class Rest:
    """Silence in the vocal line."""

    onset_s: float
    duration_s: float

    @property
    def end_s(self) -> float:
        """When the rest ends."""
        return self.onset_s + self.duration_s


Event = Note | Rest


@dataclass(frozen=True)
class Score:
    """The vocal line of one verse: notes and rests in time order, tiling [0, duration_s].

    lang: the lyrics' language from the file's xml:lang (None when the file does not say).
    part_name: the part that was chosen. warnings: things the parse could not honour, for the job log
    (e.g. repeats that could not be expanded).
    """

    events: tuple[Event, ...]
    title: str = ""
    part_name: str = ""
    lang: str | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def notes(self) -> tuple[Note, ...]:
        """The notes alone."""
        return tuple(e for e in self.events if isinstance(e, Note))

    @property
    def duration_s(self) -> float:
        """Length of the song in seconds."""
        return self.events[-1].end_s if self.events else 0.0
