"""What music21 drops from a MusicXML tree, read before music21 sees it (used by `score.read` only).

music21 loses several things a singer needs: a lyric line's number text ("1translation", "chorus")
becomes a position, `name` overrides it, `<extend>` and xml:lang are dropped, an unnamed part gets an
object number for an id, and after repeats are expanded nothing tells the first pass through a bar
from its repetition. So before music21 reads the (already safely parsed) tree, this module

- renumbers every `<lyric>` with a small integer per line label, and keeps the label, kind and
  xml:lang of each line in a `LineMeta`;
- lists the parts from the part-list by MusicXML id and name;
- tags each note with a `<footnote>` music21 carries into `note.editorial` (and through the repeat
  expansion's deep copies): the note's source bar, whether a slur runs into it, and the lyric lines
  whose extend line starts on it or runs through it (see `NoteMarks`);
- drops tempos that are not finite or outside a singable range, with a warning in words.

Pure ElementTree: no music21, no torch.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from singer_tasks.score.model import LineKind, PartInfo

MIN_BPM = 10.0
MAX_BPM = 1000.0
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_TAG = "singer:"
_CHORUS = re.compile(r"chorus|refrain|\bref\b|coro|kehr|estribillo|ritornell|burden", re.IGNORECASE)
_TRANSLATION = re.compile(r"transl|[üu]bers|traduc|tradu|\btrad\b|overs", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")


@dataclass
class LineMeta:
    """One lyric line of the file: its label as written, its kind, its xml:lang votes."""

    label: str
    kind: LineKind
    langs: Counter[str] = field(default_factory=Counter)

    @property
    def lang(self) -> str | None:
        """The line's most common xml:lang (primary subtag, lower case), None when never given."""
        return self.langs.most_common(1)[0][0] if self.langs else None

    @property
    def order(self) -> tuple[int, str]:
        """Sort key of verse lines: the number in the label, then the label."""
        match = _NUMBER.search(self.label)
        return (int(match.group()) if match else 1_000_000, self.label)


@dataclass(frozen=True)
class NoteMarks:
    """What the footnote of one note says (defaults for a note without one)."""

    bar: int = -1  # the note's source bar: the same in every pass a repeat expansion makes
    slurred: bool = False  # a slur started on an earlier note is still open on this one
    extend_starts: frozenset[int] = frozenset()  # lyric lines whose extend line starts on this note
    extend_through: frozenset[int] = frozenset()  # lines whose extend line continues or stops here
    cue: bool = False  # a cue note (<cue/>): another part's line shown small, silent by MusicXML's definition

    @classmethod
    def of(cls, element: object) -> NoteMarks:
        """The marks a music21 note (or chord) carries in its editorial footnotes."""
        for candidate in (element, *getattr(element, "notes", ())[:1]):
            editorial = getattr(candidate, "editorial", None)
            for comment in getattr(editorial, "footnotes", None) or ():
                text = str(getattr(comment, "text", "") or "")
                if text.startswith(_TAG):
                    return cls.parse(text)
        return cls()

    @classmethod
    def parse(cls, text: str) -> NoteMarks:
        """Inverse of `encode`."""
        values = dict(item.split("=", 1) for item in text.removeprefix(_TAG).split(";") if "=" in item)

        def lines(key: str) -> frozenset[int]:
            return frozenset(int(x) for x in values.get(key, "").split(",") if x)

        return cls(int(values.get("m", -1)), values.get("s") == "1", lines("e"), lines("c"), values.get("q") == "1")

    def encode(self) -> str:
        """The footnote text."""
        starts = ",".join(map(str, sorted(self.extend_starts)))
        through = ",".join(map(str, sorted(self.extend_through)))
        return f"{_TAG}m={self.bar};s={int(self.slurred)};e={starts};c={through};q={int(self.cue)}"


@dataclass
class Annotation:
    """What `annotate` learned: lyric lines by the number it wrote, parts in document order, warnings."""

    lines: dict[int, LineMeta] = field(default_factory=dict)
    parts: list[PartInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def line_kind(label: str) -> LineKind:
    """A line label's kind: "chorus"/"refrain" lines are choruses, "translation" lines translations."""
    if _TRANSLATION.search(label):
        return "translation"
    if _CHORUS.search(label):
        return "chorus"
    return "verse"


def annotate(root: Element) -> Annotation:
    """Rewrite `root` in place for music21 (see the module docstring) and return what it dropped."""
    out = Annotation()
    _sanitize_tempos(root, out.warnings)
    names = _part_names(root)
    labels: dict[str, int] = {}
    for position, part in enumerate(root.iter("part"), 1):
        part_id = (part.get("id") or "").strip()
        name, _ = names.get(part_id, ("", ""))
        lyric_notes = _renumber_lyrics(part, labels, out.lines)
        out.parts.append(PartInfo(part_id, name, position, lyric_notes))
        _mark_notes(part)
    return out


def part_abbreviations(root: Element) -> dict[str, str]:
    """Part id -> abbreviation, from the part-list."""
    return {pid: abbr for pid, (_, abbr) in _part_names(root).items()}


def _part_names(root: Element) -> dict[str, tuple[str, str]]:
    names: dict[str, tuple[str, str]] = {}
    for score_part in root.iter("score-part"):
        name = " ".join((score_part.findtext("part-name") or "").split())
        abbr = " ".join((score_part.findtext("part-abbreviation") or "").split())
        names[(score_part.get("id") or "").strip()] = (name, abbr)
    return names


def _renumber_lyrics(part: Element, labels: dict[str, int], lines: dict[int, LineMeta]) -> int:
    """Give each lyric the integer of its line label (a number text, else its name, else its place
    on the note, as MusicXML implies); returns how many notes carry lyric text."""
    carrying = 0
    for note in part.iter("note"):
        has_text = False
        for place, lyric in enumerate(note.findall("lyric"), 1):
            number = (lyric.get("number") or "").strip()
            name = (lyric.get("name") or "").strip()
            label = number or name or str(place)
            index = labels.setdefault(label, len(labels) + 1)
            meta = lines.setdefault(index, LineMeta(label, line_kind(f"{label} {name}")))
            lyric.set("number", str(index))
            if "name" in lyric.attrib:
                del lyric.attrib["name"]  # music21 would take it for the line's identity
            texts = [t.text for t in lyric.iter("text") if t.text and t.text.strip()]
            if texts:
                has_text = True
                for el in (lyric, *lyric.iter("text")):
                    lang = el.get(_XML_LANG)
                    if lang:
                        meta.langs[lang.replace("_", "-").split("-")[0].strip().lower()] += 1
        carrying += has_text
    return carrying


def _mark_notes(part: Element) -> None:
    """Write each note's NoteMarks as its footnote (replacing any footnote the file had: a singer has
    no use for it, and music21 keeps only the first)."""
    open_slurs: dict[tuple[str, str], int] = {}  # (voice, slur number) -> open count
    open_extends: dict[str, set[int]] = {}  # voice -> lyric lines with an open extend line
    for bar, measure in enumerate(part.iter("measure")):
        for note in measure.iter("note"):
            voice = (note.findtext("voice") or "1").strip()
            slurred = any(v > 0 for (vc, _), v in open_slurs.items() if vc == voice)
            starts, through = _extend_marks(note, open_extends.setdefault(voice, set()))
            for slur in note.iter("slur"):
                key = (voice, slur.get("number") or "1")
                kind = slur.get("type")
                if kind == "start":
                    open_slurs[key] = open_slurs.get(key, 0) + 1
                elif kind == "stop":
                    slurred = slurred or open_slurs.get(key, 0) > 0
                    open_slurs[key] = max(open_slurs.get(key, 0) - 1, 0)
                elif kind == "continue":
                    slurred = True
            for old in note.findall("footnote"):
                note.remove(old)
            footnote = Element("footnote")
            cue = note.find("cue") is not None
            footnote.text = NoteMarks(bar, slurred, frozenset(starts), frozenset(through), cue).encode()
            note.append(footnote)


def _extend_marks(note: Element, extends: set[int]) -> tuple[set[int], set[int]]:
    """(lines whose extend line starts on this note, lines whose extend line runs through it), updating
    `extends`, the voice's lines with an extend line still open."""
    starts: set[int] = set()
    through: set[int] = set()
    for lyric in note.findall("lyric"):
        line = int(lyric.get("number") or 0)
        extend = lyric.find("extend")
        has_text = any(t.text and t.text.strip() for t in lyric.iter("text"))
        kind = (extend.get("type") or "start") if extend is not None else None
        if has_text:
            extends.discard(line)  # a new syllable ends the previous one's extend line
        if kind == "start" and has_text:
            starts.add(line)
            extends.add(line)
        elif kind in ("continue", "stop") or (kind == "start" and not has_text):
            through.add(line)
            if kind == "stop":
                extends.discard(line)
    if note.find("lyric") is None:
        through |= extends  # an extend line started earlier runs under this lyric-less note
    return starts, through


def _sanitize_tempos(root: Element, warnings: list[str]) -> None:
    """Drop tempos that are not finite numbers from MIN_BPM to MAX_BPM (tempo="0", "-60", "NaN",
    "1e9"): music21 would divide by them, and a song at 0 bpm never ends."""
    bad: list[str] = []
    for parent in list(root.iter()):  # a list: the loop removes elements
        for child in list(parent):
            if child.tag == "sound" and child.get("tempo") is not None:
                raw = child.get("tempo") or ""
                if not _sane(raw):
                    bad.append(raw.strip())
                    del child.attrib["tempo"]
            elif child.tag == "direction-type":
                for metronome in child.findall("metronome"):
                    written = metronome.findtext("per-minute")
                    if written is not None and not _sane(written, lenient=True):
                        bad.append(written.strip())
                        child.remove(metronome)
                    elif written is not None and not _plain_per_minute(metronome, written) and _sounds_tempo(parent):
                        child.remove(metronome)  # music21 would drop the sound's tempo for a number-less mark
                if not len(child):
                    parent.remove(child)
        if parent.tag == "direction" and parent.find("direction-type") is None:
            # a direction must keep one direction-type; an empty words element says nothing
            parent.insert(0, _empty_words())
    if bad:
        shown = ", ".join(sorted({repr(b) for b in bad}))
        warnings.append(
            f"tempo mark(s) {shown} ignored: a tempo must be a number from {MIN_BPM:g} to {MAX_BPM:g} beats per "
            "minute; the previous tempo (or 120) is used there"
        )


def _empty_words() -> Element:
    direction_type = Element("direction-type")
    words = Element("words")
    words.text = ""
    direction_type.append(words)
    return direction_type


def sane_bpm(bpm: float | None) -> bool:
    """Whether a tempo in beats per minute is finite and within MIN_BPM..MAX_BPM."""
    return bpm is not None and math.isfinite(bpm) and MIN_BPM <= bpm <= MAX_BPM


_RANGE = re.compile(r"(\d+(?:\.\d+)?)\s*[-\u2013\u2014~]\s*(\d+(?:\.\d+)?)")
_NUMBER_IN_TEXT = re.compile(r"\d+(?:\.\d+)?")


def _plain_per_minute(metronome: Element, written: str) -> bool:
    """Rewrite a per-minute written as text ("c. 72", "ca 72", "60-66", "= 80") as the number it means (the
    middle of a range), which music21 reads: it reads no tempo from such text, and drops the tempo of the
    direction's <sound> with it. Whether the per-minute is a plain number now."""
    text = written.strip()
    if _NUMBER_IN_TEXT.fullmatch(text):
        return True
    span = _RANGE.search(text)
    number = _NUMBER_IN_TEXT.search(text)
    if span is not None:
        value = (float(span.group(1)) + float(span.group(2))) / 2
    elif number is not None:
        value = float(number.group())
    else:
        return False
    if not sane_bpm(value):
        return False
    per_minute = metronome.find("per-minute")
    assert per_minute is not None  # findtext found it
    per_minute.text = f"{value:g}"
    return True


def _sounds_tempo(direction: Element) -> bool:
    return any(sound.get("tempo") is not None for sound in direction.findall("sound"))


def _sane(raw: str, *, lenient: bool = False) -> bool:
    text = raw.strip()
    if lenient:  # a metronome's per-minute may be text such as "c. 60" or "60-70": judge its first number
        match = re.search(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|nan|inf", text, re.IGNORECASE)
        if match is None:
            return True  # no number: music21 reads no tempo from it
        text = match.group()
    try:
        return sane_bpm(float(text))
    except ValueError:
        return False
