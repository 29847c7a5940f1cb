"""Heavy scores are refused before music21 runs: notes counted per part on the parsed tree, the real
limit of a sung line named, in milliseconds; a parse past its time budget is a permanent score error."""

from __future__ import annotations

import time

import pytest

from singer_tasks.errors import ParseTimeExceeded, ScoreTooLarge
from singer_tasks.score.limits import ParseClock, ScoreLimits
from singer_tasks.score.safe_xml import load_score_xml, sung_notes
from singer_tasks.settings import SingerSettings
from tests.singer_tasks.fixtures.scores.xmlbuild import measure, note, part, rest, score, tempo, to_mxl, voice_score

PITCHES = ("C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5", "D5")
WORDS = ("la", "li", "lo", "lu", "na", "ni", "no", "sha", "ri")


def quarters(count: int, *, lyric: bool = True) -> list[str]:
    """`count` quarter notes, four to a bar, varied so that a compressed .mxl stays an ordinary archive."""
    bars = []
    for b in range(max(1, count // 4)):
        notes = []
        for i in range(4):
            k = (b * 7 + i * 3 + b // 5) % len(PITCHES)
            notes.append(note(PITCHES[k], 4, WORDS[(k + b) % len(WORDS)] if lyric else None))
        bars.append(measure(b + 1, *([tempo(120)] if b == 0 else []), *notes))
    return bars


def test_a_part_over_the_sung_line_limit_is_refused_before_music21() -> None:
    limits = ScoreLimits(max_notes=100, max_xml_notes=10_000)
    heavy = voice_score(quarters(104))
    with pytest.raises(ScoreTooLarge, match=r"part 'Voice' has 104 notes, over the limit of 100"):
        load_score_xml(heavy, "heavy.musicxml", limits)
    assert load_score_xml(voice_score(quarters(100)), "ok.musicxml", limits).tag == "score-partwise"


def test_an_accompaniment_part_counts_too() -> None:
    limits = ScoreLimits(max_notes=100, max_xml_notes=10_000)
    data = score(("Voice", part(quarters(8))), ("Piano", part(quarters(200, lyric=False))))
    with pytest.raises(ScoreTooLarge, match="part 'Piano' has 200 notes"):
        load_score_xml(data, "two.musicxml", limits)


def test_rests_chords_grace_notes_and_tied_continuations_are_not_sung_notes() -> None:
    bar = measure(
        1,
        tempo(120),
        note("C4", 4, "la", tie="start"),
        note("C4", 4, tie="stop"),  # one sung note with the one before
        note("E4", 4, "li"),
        note("G4", 4, chord=True),  # sounds with E4: one sung note
        note("D4", 0, grace=True),
        note("F4", 4, tie="both"),  # tied from G4... a continuation without a syllable of its own
        rest(4),
    )
    root = load_score_xml(voice_score([bar]), "x.musicxml", ScoreLimits())
    assert sung_notes(root.findall("part")[0]) == 2


def test_the_whole_file_has_a_note_budget() -> None:
    data = score(("A", part(quarters(40))), ("B", part(quarters(40))))
    with pytest.raises(ScoreTooLarge, match="holds 80 notes over all its parts, over the limit of 79"):
        load_score_xml(data, "x.musicxml", ScoreLimits(max_xml_notes=79))


def test_sixty_thousand_notes_are_refused_in_well_under_a_second() -> None:
    data = to_mxl(voice_score(quarters(60_000)))
    started = time.perf_counter()
    with pytest.raises(ScoreTooLarge, match="over the limit of"):
        load_score_xml(data, "heavy.mxl", ScoreLimits(max_score_bytes=10_000_000))
    assert time.perf_counter() - started < 5.0  # typically ~0.5 s; music21 would take minutes


def test_defaults_follow_the_settings() -> None:
    settings = SingerSettings.from_env({"SINGER_MAX_NOTES": "300", "SINGER_MAX_PARSE_NOTES": "900"})
    limits = ScoreLimits.from_settings(settings)
    assert (limits.max_notes, limits.max_xml_notes, limits.parse_budget_s) == (300, 900, settings.parse_budget_s)
    assert ScoreLimits.from_settings(SingerSettings.from_env({})) == ScoreLimits()
    assert ScoreLimits().max_xml_notes < 100_000  # the old pre-parse allowance


def test_a_parse_past_its_budget_is_a_permanent_score_error() -> None:
    clock = ParseClock(0.05)
    clock.check("xml")
    time.sleep(0.06)
    with pytest.raises(ParseTimeExceeded, match="over the parse budget of 0 s") as info:
        clock.check("music21")
    # A ScoreError (ScoreTooLarge): the render task turns it into a rejection, never a retry.
    assert isinstance(info.value, ScoreTooLarge)
    assert (info.value.code, info.value.status) == ("parse_time_exceeded", 413)
    assert ScoreLimits(parse_budget_s=7).clock().budget_s == 7
