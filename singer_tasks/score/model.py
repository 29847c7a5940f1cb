"""The score model: what the parse stage hands to the phonemize stage.

Times are absolute seconds from the start of the song (the tempo map is already applied), so nothing
downstream needs to know about measures, divisions or tempo marks. This module imports neither
music21 nor torch: the API may use the error codes below without loading either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Syllabic = Literal["single", "begin", "middle", "end"]
LineKind = Literal["verse", "chorus", "translation"]


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
class Bar:
    """Where a measure of the sung part starts, for the piano roll's bar ruler: onset_s on the song's
    timeline (the tempo map applied, repeats expanded) and its number as printed ("12", "12a", "0")."""

    onset_s: float
    number: str


@dataclass(frozen=True)
class LyricLine:
    """One line of lyrics a part carries, as the score numbers it.

    label: the line's number text as written ("1", "2", "1translation", "chorus"); kind: a verse, a
    chorus (sung with every verse) or a translation (not counted as a verse; selectable by its label);
    verse: the 1-based verse number of a verse line (0 for the others); lang: its xml:lang, primary
    subtag, lower case (None when the file does not say); syllables: how many notes carry it.
    """

    label: str
    kind: LineKind = "verse"
    verse: int = 0
    lang: str | None = None
    syllables: int = 0


@dataclass(frozen=True)
class PartInfo:
    """A part of the score: its MusicXML id, its name ("" when unnamed), its 1-based position, and how
    many notes carry lyrics."""

    id: str
    name: str
    position: int
    lyric_notes: int = 0

    @property
    def label(self) -> str:
        """How the part is shown to a user: its name, else its MusicXML id (never an object number)."""
        return self.name or self.id or f"part {self.position}"


@dataclass(frozen=True)
class Score:
    """The vocal line of one verse: notes and rests in time order, tiling [0, duration_s].

    lang: the sung line's language from the file's xml:lang (None when the file does not say).
    part_name: the part that was chosen (its name, else its MusicXML id); part_id its MusicXML id;
    part_reason why it was chosen, in words. line: the lyric line sung (its label); lines: every lyric
    line of the chosen part (verses, choruses, translations); parts: every part of the score.
    warnings: things the parse could not honour or chose on the user's behalf, for the job log.
    bars: where each measure of the chosen part starts (empty for a score built without them).
    """

    events: tuple[Event, ...]
    title: str = ""
    part_name: str = ""
    lang: str | None = None
    warnings: tuple[str, ...] = field(default=())
    part_id: str = ""
    part_reason: str = ""
    line: str = ""
    lines: tuple[LyricLine, ...] = field(default=())
    parts: tuple[PartInfo, ...] = field(default=())
    bars: tuple[Bar, ...] = field(default=())

    @property
    def verses(self) -> tuple[LyricLine, ...]:
        """The verse lines alone, in verse order."""
        return tuple(line for line in self.lines if line.kind == "verse")

    @property
    def translations(self) -> tuple[LyricLine, ...]:
        """The translation lines alone (selectable by label, never counted as verses)."""
        return tuple(line for line in self.lines if line.kind == "translation")

    @property
    def notes(self) -> tuple[Note, ...]:
        """The notes alone."""
        return tuple(e for e in self.events if isinstance(e, Note))

    @property
    def duration_s(self) -> float:
        """Length of the song in seconds."""
        return self.events[-1].end_s if self.events else 0.0
