"""Parse stage: MusicXML bytes -> Score (the vocal line of one verse, timed in seconds).

The bytes are checked and parsed by `parse_xml` (hardened XML, zip-bomb checks) before music21 builds
its score from the already-parsed tree. Repeats (repeat barlines, volta brackets, D.C./D.S. marks
music21 understands) are expanded; where music21 cannot expand them consistently the score is sung
as written and a warning says so. music21 is imported inside functions: importing this module is
cheap, and only the worker path calls it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from xml.etree.ElementTree import Element

from singer_tasks.errors import NoLyrics, NoNotes, PartNotFound, ScoreError, ScoreTooLarge, SongTooLong, UnreadableScore
from singer_tasks.score.events import TempoMap, lyric_lines, part_events
from singer_tasks.score.limits import ScoreLimits
from singer_tasks.score.model import Note, Score
from singer_tasks.score.safe_xml import load_score_xml
from singer_tasks.settings import get_settings

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def parse_score(
    data: bytes,
    filename: str,
    *,
    part: int | str | None = None,
    verse: int = 1,
    limits: ScoreLimits | None = None,
) -> Score:
    """Read a MusicXML (.musicxml, .xml, .mxl) score and return its vocal line for one verse.

    part: None picks the part with the most lyrics; an int is a 1-based part number; a str matches a
    part's name, abbreviation or id (case-insensitive). verse: 1-based, counting the lyric lines the
    part uses in number order (a chorale whose only line is numbered 2 sings it as verse 1).
    Raises a ScoreError subclass naming the problem.
    """
    limits = limits if limits is not None else ScoreLimits.from_settings(get_settings())
    if verse < 1:
        raise ScoreError(f"verse must be 1 or more, got {verse}")
    root = load_score_xml(data, filename, limits)
    m21score = _to_music21(root, filename)
    warnings: list[str] = []
    m21score = _expand_repeats(m21score, warnings)
    parts = list(m21score.parts)
    if not parts or not any(p.recurse().notes for p in parts):
        raise NoNotes(f"{filename} has no notes; upload a score with a sung melody")
    chosen = _choose_part(parts, part, verse, filename)
    verses = len(lyric_lines(chosen))
    if verse > verses:
        raise NoLyrics(
            f"part '{_name(chosen)}' has {verses} verse(s) of lyrics, so verse {verse} does not exist; "
            f"choose 1 to {verses}"
            if verses
            else f"part '{_name(chosen)}' has no lyrics; choose the part that carries the lyrics"
        )
    events, unsung = part_events(chosen, verse, TempoMap.from_music21(m21score))
    notes = [e for e in events if isinstance(e, Note)]
    if not notes:
        raise NoLyrics(
            f"part '{_name(chosen)}' has no lyrics in verse {verse}; choose another part or verse, "
            "or add lyrics to the melody"
        )
    if unsung:
        warnings.append(f"{unsung} note(s) without lyrics after a rest were left silent")
    if len(notes) > limits.max_notes:
        raise ScoreTooLarge(f"the vocal line has {len(notes):,} notes, over the limit of {limits.max_notes:,}")
    score = Score(
        events=tuple(events),
        title=_title(m21score),
        part_name=_name(chosen),
        lang=_xml_lang(root),
        warnings=tuple(warnings),
    )
    if score.duration_s > limits.max_song_s:
        raise SongTooLong(
            f"the song lasts {score.duration_s:.0f} s (repeats expanded), over the limit of "
            f"{limits.max_song_s:.0f} s; split it into shorter scores"
        )
    return score


def _to_music21(root: Element, filename: str) -> Any:
    from music21.musicxml import xmlToM21  # heavy: imported on the worker path only

    module: Any = xmlToM21  # music21 is untyped
    importer = module.MusicXMLImporter()
    try:
        importer.xmlRootToScore(root, importer.stream)
    # music21 raises many unrelated exception types on malformed scores; all mean "cannot read it"
    except Exception as e:
        raise UnreadableScore(f"{filename} could not be read as MusicXML ({type(e).__name__}: {e})") from e
    return importer.stream


def _expand_repeats(m21score: Any, warnings: list[str]) -> Any:
    marks = m21score.recurse().getElementsByClass(("Repeat", "RepeatExpression", "RepeatBracket"))
    if not marks:
        return m21score
    try:
        return m21score.expandRepeats()
    # music21's expander raises assorted errors on inconsistent repeat marks; fall back to as-written
    except Exception as e:
        warnings.append(f"repeats could not be expanded ({type(e).__name__}); sung as written")
        return m21score


def _choose_part(parts: list[Any], part: int | str | None, verse: int, filename: str) -> Any:
    if isinstance(part, int):
        if not 1 <= part <= len(parts):
            raise PartNotFound(f"{filename} has {len(parts)} part(s); part {part} does not exist (parts count from 1)")
        return parts[part - 1]
    if isinstance(part, str):
        wanted = part.strip().casefold()
        for p in parts:
            if wanted in {str(x).strip().casefold() for x in (p.partName, p.partAbbreviation, p.id) if x}:
                return p
        names = ", ".join(repr(_name(p)) for p in parts)
        raise PartNotFound(f"{filename} has no part named {part!r}; its parts are {names}")
    counts = [_lyric_count(p) for p in parts]
    if max(counts) == 0:
        raise NoLyrics(f"{filename} has no lyrics; add lyrics to the melody and export it again")
    return parts[counts.index(max(counts))]


def _lyric_count(part: Any) -> int:
    return sum(1 for n in part.recurse().notes if any(ly.text for ly in n.lyrics))


def _name(part: Any) -> str:
    return str(part.partName or part.id or "")


def _title(m21score: Any) -> str:
    md = m21score.metadata
    return str(md.title or md.movementName or "") if md is not None else ""


def _xml_lang(root: Element) -> str | None:
    """The most common xml:lang on <lyric> (or its <text>) elements, primary subtag, lower case."""
    langs: Counter[str] = Counter()
    for lyric in root.iter("lyric"):
        for el in (lyric, *lyric.iter("text")):
            value = el.get(_XML_LANG)
            if value:
                langs[value.split("-")[0].split("_")[0].strip().lower()] += 1
    return langs.most_common(1)[0][0] if langs else None
