"""Parse stage: MusicXML bytes -> Score (the vocal line of one verse, timed in seconds).

The bytes are checked and parsed by `load_score_xml` (hardened XML, zip-bomb checks); `annotate` then
keeps what music21 would drop (lyric line labels, extend lines, slurs, source bars, part ids) and drops
absurd tempos, before music21 builds its score from the tree. Repeats (repeat barlines, volta
brackets, D.C./D.S. marks music21 understands) are expanded; where music21 cannot expand them
consistently the score is sung as written and a warning says so. Whatever goes wrong inside music21
becomes UnreadableScore in words, and music21's own warnings become score warnings in words.
music21 is imported inside functions: importing this module is cheap, and only the worker path calls it.

Which part: the one asked for (by name, abbreviation, MusicXML id or 1-based position), else the solo
part (named solo, voice, ...), else the top voice of a choir (soprano before alto, tenor, bass), else
the highest-pitched of the parts that carry most of the lyrics. Which line: verses are the lines
whose label is not a chorus or translation, counted in number order; a chorus line is sung wherever
the verse has no syllable; translations are listed and can be chosen by their label.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings as py_warnings
from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

from singer_tasks.errors import (
    NoLyrics,
    NoNotes,
    PartNotFound,
    PitchOutOfRange,
    ScoreError,
    ScoreTooLarge,
    SingerError,
    SongTooLong,
    UnreadableScore,
)
from singer_tasks.score.annotate import Annotation, LineMeta, annotate, part_abbreviations
from singer_tasks.score.events import LineChoice, TempoMap, lyric_lines, part_events
from singer_tasks.score.limits import ScoreLimits
from singer_tasks.score.model import Bar, LyricLine, Note, PartInfo, Rest, Score
from singer_tasks.score.safe_xml import load_score_xml
from singer_tasks.settings import get_settings

_SOLO = re.compile(
    r"\b(solo|soli|voice|vocals?|voix|voce|stimme|singstimme|gesang|canto solo|melody|melodie|melodia|lead|singer)\b",
    re.IGNORECASE,
)
# Choir voices from the top down; a name is ranked by the first of these it starts with.
_CHOIR = [
    # early music: cantus ("C"), triplum over duplum / motetus, contratenor ("Ct") beside the tenor
    (
        0,
        re.compile(
            r"^(s|sop|sopr|soprano|sopran|soprani|soprane|treble|discant\w*|superius|cantus|canto|c|dessus"
            r"|tripl\w*)\b"
        ),
    ),
    (1, re.compile(r"^(ms|mezzo\w*|dupl\w*|motetus)\b")),
    (2, re.compile(r"^(a|alt|alto|alti|altus|contralto|counter-?tenor|contratenor|ct|haute-contre|quintus)\b")),
    (3, re.compile(r"^(t|ten|tenor|tenore|tenori|taille)\b")),
    (4, re.compile(r"^(bar|bari|baritone|bariton|baritono)\b")),
    (5, re.compile(r"^(b|bs|bass|bassus|basso|bassi|basse|bas)\b")),
]
_PATHS = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.\-]+)+\.py\S*|File \"[^\"]*\"(, line \d+)?|line \d+|\S+\.py:\d+:?")


def parse_score(
    data: bytes,
    filename: str,
    *,
    part: int | str | None = None,
    verse: int | str = 1,
    limits: ScoreLimits | None = None,
) -> Score:
    """Read a MusicXML (.musicxml, .xml, .mxl) score and return its vocal line for one verse.

    part: None chooses (see the module docstring); an int is a 1-based position; a str matches a
    part's name, abbreviation, MusicXML id ("P1") or position ("2"), case-insensitive.
    verse: 1-based, counting the part's verse lines in number order (a chorale whose only line is
    numbered 2 sings it as verse 1); a str chooses a line by its label ("1translation", "chorus").
    Raises a ScoreError subclass naming the problem; anything else going wrong while reading becomes
    UnreadableScore.
    """
    limits = limits if limits is not None else ScoreLimits.from_settings(get_settings())
    if isinstance(verse, int) and verse < 1:
        raise ScoreError(f"verse must be 1 or more, got {verse}")
    try:
        return _parse(data, filename, part, verse, limits)
    except SingerError:
        raise
    # music21 and the XML layer raise assorted exception types on malformed files; all mean "cannot read it"
    except Exception as e:
        raise UnreadableScore(
            f"{filename} could not be read as a score: {in_words(e)}; export it again from your notation program"
        ) from e


def _parse(data: bytes, filename: str, part: int | str | None, verse: int | str, limits: ScoreLimits) -> Score:
    clock = limits.clock()  # the parse budget: a score over it fails for good (ParseTimeExceeded)
    root = load_score_xml(data, filename, limits)
    found = annotate(root)
    if not any(p.lyric_notes for p in found.parts) and any(n.find("rest") is None for n in root.iter("note")):
        # Refused before music21 reads it: a long instrumental score costs it seconds to minutes, and
        # no part, verse or repeat can give lyrics to a file that has none (music21 counts the same texts).
        raise NoLyrics(f"{filename} has no lyrics; add lyrics to the melody and export it again")
    warnings: list[str] = list(found.warnings)
    with _music21_warnings(warnings):
        m21score = _to_music21(root, filename)
        _to_sounding_pitch(m21score, warnings)
        clock.check("music21")
        m21score = _expand_repeats(m21score, warnings)
        clock.check("repeats")
    parts = list(m21score.parts)
    if not parts or not any(p.recurse().notes for p in parts):
        raise NoNotes(f"{filename} has no notes; upload a score with a sung melody")
    infos = _part_infos(parts, found)
    index, reason = _choose_part(parts, infos, part, filename, part_abbreviations(root))
    chosen, info = parts[index], infos[index]
    counts = lyric_lines(chosen)
    lines = _lines(counts, found)
    choice, sung = _choose_line(lines, counts, verse, info)
    with _music21_warnings(warnings):
        tempo = TempoMap.from_music21(m21score, warnings)
        walked = part_events(chosen, choice, tempo)
    clock.check("vocal line")
    events = walked.events
    notes = [e for e in events if isinstance(e, Note)]
    if not notes:
        raise NoLyrics(
            f"part '{info.label}' has no lyrics in verse {sung.label}; choose another part or verse, "
            "or add lyrics to the melody"
        )
    if walked.unsingable:
        raise PitchOutOfRange(
            f"{walked.unsingable} sung note(s) lie outside the range of pitches a score can hold, C-1 to G9 (bar(s) "
            f"{_bars(walked.unsingable_bars)}); an octave is wrong in the file: correct it and upload the score again"
        )
    if walked.extreme:
        warnings.append(
            f"{walked.extreme} sung note(s) lie outside every singer's range, C1 to C7 (bar(s) "
            f"{_bars(walked.extreme_bars)}); the voice may sound strained there: transpose the part by an octave"
        )
    if walked.silent:
        warnings.append(
            f"{walked.silent} note(s) without a lyric were left silent (bar(s) {_bars(walked.silent_bars)}): no "
            "slur, extend line or hyphen ties them to a sung syllable; add a slur or an extend line where a "
            "syllable is held"
        )
    if walked.unmarked:
        warnings.append(
            f"{walked.unmarked} note(s) without a lyric were held on the syllable before although no slur or "
            f"extend line marks it (bar(s) {_bars(walked.unmarked_bars)}); mark melismas with a slur or extend line"
        )
    if len(notes) > limits.max_notes:
        raise ScoreTooLarge(f"the vocal line has {len(notes):,} notes, over the limit of {limits.max_notes:,}")
    events = _pad_to_end(events, m21score, tempo)
    if sum(1 for i in infos if i.lyric_notes) > 1 and part is None:
        others = ", ".join(f"{i.position} {i.label!r} ({i.id})" for i in infos if i.lyric_notes and i is not info)
        warnings.append(f"sang part '{info.label}' ({info.id}): {reason}; other parts with lyrics: {others}")
    score = Score(
        events=tuple(events),
        title=_title(m21score),
        part_name=info.label,
        lang=sung.lang,
        warnings=tuple(dict.fromkeys(warnings)),
        part_id=info.id,
        part_reason=reason,
        line=sung.label,
        lines=tuple(lines.values()),
        parts=tuple(infos),
        bars=_measure_starts(chosen, tempo),
    )
    if score.duration_s > limits.max_song_s:
        raise SongTooLong(
            f"the song lasts {score.duration_s:.0f} s (repeats expanded), over the limit of "
            f"{limits.max_song_s:.0f} s; split it into shorter scores"
        )
    return score


def _bars(bars: list[str]) -> str:
    return ", ".join(bars[:8]) + (" ..." if len(bars) > 8 else "")


def in_words(error: BaseException) -> str:
    """An exception's message for a user: no exception class name, no library paths or code lines."""
    text = _PATHS.sub("", str(error)).strip().strip(":;,. ")
    text = " ".join(text.split())
    if not text or len(text) < 4:
        return "the file holds something this reader does not understand"
    return text[:200]


@contextlib.contextmanager
def _music21_warnings(out: list[str]) -> Iterator[None]:
    """Collect what music21 warns (through `warnings` or printed on stderr) as score warnings in words."""
    printed = io.StringIO()
    with py_warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(printed):
        py_warnings.simplefilter("always")
        yield
    messages = [str(w.message) for w in caught] + printed.getvalue().splitlines()
    for message in messages:
        words = _PATHS.sub("", message).strip()
        words = re.sub(r"^(music21:?\s*)?(\w+(Warning|Exception|Error):\s*)?", "", words).strip()
        if words and len(words) > 3 and not words.startswith(("warnings.warn", "self.", "raise ")):
            out.append(f"the score reader noted: {' '.join(words.split())[:200]}")


def _to_music21(root: Element, filename: str) -> Any:
    from music21.musicxml import xmlToM21  # heavy: imported on the worker path only

    module: Any = xmlToM21  # music21 is untyped
    importer = module.MusicXMLImporter()
    try:
        importer.xmlRootToScore(root, importer.stream)
    # music21 raises many unrelated exception types on malformed scores; all mean "cannot read it"
    except Exception as e:
        raise UnreadableScore(f"{filename} could not be read as MusicXML: {in_words(e)}") from e
    return importer.stream


def _to_sounding_pitch(m21score: Any, warnings: list[str]) -> None:
    """Sounding pitches in every part written for a transposing instrument, in place.

    A <transpose> element says the notes are written, not heard: sounding = written + transposition (a
    tenor or guitar "octave-change -1", a B-flat clarinet's major second). music21 keeps the written
    pitches and marks such a part `atSoundingPitch = False`; sung as written, a tenor line written that
    way would come out an octave high. Octave-shift lines need nothing: MusicXML gives their sounding pitch."""
    for part in m21score.parts:
        if part.atSoundingPitch is not False:
            continue
        try:
            part.toSoundingPitch(inPlace=True)
        # music21 raises assorted errors on odd instrument changes; the written pitches are the fallback
        except Exception as e:
            warnings.append(
                f"part {part.partName or part.id!r} is written for a transposing instrument but could not be moved "
                f"to sounding pitch ({in_words(e)}); it is sung as written"
            )


def _expand_repeats(m21score: Any, warnings: list[str]) -> Any:
    marks = m21score.recurse().getElementsByClass(("Repeat", "RepeatExpression", "RepeatBracket"))
    if not marks:
        return m21score
    try:
        return m21score.expandRepeats()
    # music21's expander raises assorted errors on inconsistent repeat marks; fall back to as-written
    except Exception as e:
        warnings.append(f"repeats could not be expanded ({in_words(e)}); the score is sung as written")
        return m21score


def _part_infos(parts: list[Any], found: Annotation) -> list[PartInfo]:
    """PartInfo per music21 part: the XML's part in the same place (music21 reads parts in document
    order), matched by id where the counts differ; lyric counts from music21 (after repeats)."""
    by_id = {p.id: p for p in found.parts}
    infos = []
    for position, p in enumerate(parts, 1):
        xml = found.parts[position - 1] if len(found.parts) == len(parts) else by_id.get(str(p.id))
        lyric_notes = sum(1 for n in p.recurse().notes if any(ly.text for ly in n.lyrics))
        if xml is None:
            name = str(p.partName or "")
            infos.append(PartInfo(f"P{position}", name, position, lyric_notes))
        else:
            infos.append(PartInfo(xml.id or f"P{position}", xml.name, position, lyric_notes))
    return infos


def _choose_part(
    parts: list[Any], infos: list[PartInfo], wanted: int | str | None, filename: str, abbreviations: dict[str, str]
) -> tuple[int, str]:
    """(index of the part to sing, why it was chosen, in words)."""
    listed = ", ".join(f"{i.position} {i.label!r} ({i.id})" for i in infos)
    if isinstance(wanted, int):
        if not 1 <= wanted <= len(parts):
            raise PartNotFound(
                f"{filename} has {len(parts)} part(s); part {wanted} does not exist (parts count from 1: {listed})"
            )
        return wanted - 1, "chosen by position"
    if isinstance(wanted, str):
        key = wanted.strip().casefold()
        for i, info in enumerate(infos):
            if key in {x.casefold() for x in (info.name, info.id, abbreviations.get(info.id, "")) if x}:
                return i, "chosen by name or id"
        if key.isdigit() and 1 <= int(key) <= len(parts):
            return int(key) - 1, "chosen by position"
        names = ", ".join(repr(i.label) for i in infos)
        raise PartNotFound(f"{filename} has no part named {wanted!r}; its parts are {names} ({listed})")
    singing = [i for i, info in enumerate(infos) if info.lyric_notes]
    if not singing:
        raise NoLyrics(f"{filename} has no lyrics; add lyrics to the melody and export it again")
    if len(singing) == 1:
        return singing[0], "the only part with lyrics"
    plain = {i: " ".join(re.sub(r"[\d.:()\[\]]+", " ", infos[i].name.casefold()).split()) for i in singing}
    solo = [i for i in singing if _SOLO.search(plain[i])]
    if solo:
        return solo[0], "the solo part"
    # Only the parts that carry a fair share of the text: a tenor with the "Amen" alone is not the tune.
    most = max(infos[i].lyric_notes for i in singing)
    main = [i for i in singing if infos[i].lyric_notes * 2 >= most]
    ranked = [(rank, i) for i in main for rank, pattern in _CHOIR if pattern.match(plain[i])]
    if ranked:
        best = min(ranked)
        return best[1], "the top voice of the choir"
    best_i = max(main, key=lambda i: (_mean_pitch(parts[i]), -i))
    return best_i, "the highest of the parts that carry the lyrics"


def _mean_pitch(part: Any) -> float:
    pitches = [
        max(float(p.ps) for p in n.pitches)
        for n in part.recurse().notes
        if n.pitches and any(ly.text for ly in n.lyrics)
    ]
    return sum(pitches) / len(pitches) if pitches else 0.0


def _lines(counts: Any, found: Annotation) -> dict[int, LyricLine]:
    """The part's lyric lines by number: verses numbered in label order, then choruses, then translations."""
    metas = {n: found.lines.get(n, LineMeta(str(n), "verse")) for n in counts}
    verses = sorted((n for n, m in metas.items() if m.kind == "verse"), key=lambda n: metas[n].order)
    if not verses:  # only choruses (or only translations): sing them as verses
        verses = sorted((n for n, m in metas.items() if m.kind == "chorus"), key=lambda n: metas[n].order)
    out: dict[int, LyricLine] = {}
    for k, n in enumerate(verses, 1):
        out[n] = LyricLine(metas[n].label, "verse", k, metas[n].lang, counts[n])
    kinds = {"verse": 0, "chorus": 1, "translation": 2}
    for n in sorted(metas, key=lambda n: (kinds[metas[n].kind], metas[n].order)):
        if n not in out:
            out[n] = LyricLine(metas[n].label, metas[n].kind, 0, metas[n].lang, counts[n])
    return out


def _choose_line(
    lines: dict[int, LyricLine], counts: Any, verse: int | str, info: PartInfo
) -> tuple[LineChoice, LyricLine]:
    verses = tuple(n for n, line in lines.items() if line.kind == "verse")
    choruses = tuple(n for n, line in lines.items() if line.kind == "chorus")
    if isinstance(verse, str) and verse.strip().isdigit():
        verse = int(verse.strip())
    if isinstance(verse, str):
        key = verse.strip().casefold()
        match = next((n for n, line in lines.items() if line.label.casefold() == key), None)
        if match is None:
            labels = ", ".join(repr(line.label) for line in lines.values()) or "none"
            raise NoLyrics(f"part '{info.label}' has no lyric line {verse!r}; its lines are {labels}")
        index = verses.index(match) if match in verses else -1
        return LineChoice(verses, index, match, tuple(c for c in choruses if c != match)), lines[match]
    if verse > len(verses):
        translations = [line.label for line in lines.values() if line.kind == "translation"]
        extra = f" (translations, chosen by label: {', '.join(map(repr, translations))})" if translations else ""
        raise NoLyrics(
            f"part '{info.label}' has {len(verses)} verse(s) of lyrics, so verse {verse} does not exist; "
            f"choose 1 to {len(verses)}{extra}"
            if verses
            else f"part '{info.label}' has no lyrics; choose the part that carries the lyrics"
        )
    line = verses[verse - 1]
    return LineChoice(verses, verse - 1, line, choruses), lines[line]


def _pad_to_end(events: list[Any], m21score: Any, tempo: TempoMap) -> list[Any]:
    """Events ending where the score ends (its longest part), so the WAV lines up with an accompaniment
    of the same score: trailing rests, and bars the vocal part leaves empty, are kept as silence."""
    end_q = max((float(p.highestTime) for p in m21score.parts), default=0.0)
    end_s = tempo.seconds(end_q)
    last = events[-1].end_s if events else 0.0
    if end_s <= last + 1e-9:
        return events
    if events and isinstance(events[-1], Rest):
        return [*events[:-1], Rest(events[-1].onset_s, end_s - events[-1].onset_s)]
    return [*events, Rest(last, end_s - last)]


def _measure_starts(part: Any, tempo: TempoMap) -> tuple[Bar, ...]:
    """Each measure's start in seconds (through the tempo map the notes use) and its printed number; a
    measure starting where the one before did (an empty one) is dropped, so bar lines never overlap."""
    bars: list[Bar] = []
    for measure in part.getElementsByClass("Measure"):
        onset_s = tempo.seconds(float(measure.offset))
        if bars and onset_s <= bars[-1].onset_s + 1e-9:
            continue
        number = measure.measureNumberWithSuffix() if hasattr(measure, "measureNumberWithSuffix") else measure.number
        bars.append(Bar(onset_s, str(number)))
    return tuple(bars)


def _title(m21score: Any) -> str:
    md = m21score.metadata
    return str(md.title or md.movementName or "") if md is not None else ""
