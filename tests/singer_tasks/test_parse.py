"""Parse stage on fixture scores whose timing is known by construction."""

from __future__ import annotations

import pytest

from singer_tasks.errors import NoLyrics, NoNotes, PartNotFound, ScoreError, ScoreTooLarge
from singer_tasks.score.limits import ScoreLimits
from singer_tasks.score.model import Note, Rest, Score
from singer_tasks.score.read import parse_score
from tests.singer_tasks.fixtures.scores.xmlbuild import (
    Lyric,
    measure,
    midi_of,
    note,
    part,
    rest,
    score,
    tempo,
    time_sig,
    to_mxl,
    voice_score,
)


def parse(xml: bytes, name: str = "test.musicxml", **kw: object) -> Score:
    return parse_score(xml, name, **kw)  # type: ignore[arg-type]


def onsets(s: Score) -> list[float]:
    return [round(n.onset_s, 9) for n in s.notes]


def test_quarter_notes_at_120_bpm_start_every_half_second() -> None:
    s = parse(voice_score([measure(1, tempo(120), *(note(p, 4, "la") for p in ("C4", "D4", "E4", "F4")))]))
    assert onsets(s) == [0.0, 0.5, 1.0, 1.5]
    assert [n.duration_s for n in s.notes] == pytest.approx([0.5] * 4)
    assert [n.midi for n in s.notes] == [midi_of(p) for p in ("C4", "D4", "E4", "F4")]
    assert s.duration_s == pytest.approx(2.0)


def test_tempo_change_mid_score_rescales_later_notes() -> None:
    # measure 1 at 60 bpm (1 s per quarter), measure 2 at 120 bpm (0.5 s per quarter)
    xml = voice_score(
        [
            measure(1, tempo(60), note("C4", 8, "a"), note("D4", 8, "b")),
            measure(2, tempo(120), note("E4", 8, "c"), note("F4", 4, "d"), note("G4", 4, "e")),
        ]
    )
    s = parse(xml)
    assert onsets(s) == pytest.approx([0.0, 2.0, 4.0, 5.0, 5.5])
    assert s.notes[-1].duration_s == pytest.approx(0.5)


def test_time_signature_change_and_eighths() -> None:
    xml = voice_score(
        [
            measure(1, tempo(60), note("C4", 4, "a"), note("D4", 4, "b"), note("E4", 4, "c")),
            measure(2, time_sig(2, 4), note("F4", 2, "d"), note("G4", 2, "e"), note("A4", 4, "f")),
        ],
        beats=3,
    )
    assert onsets(parse(xml)) == pytest.approx([0.0, 1.0, 2.0, 3.0, 3.5, 4.0])


def test_pickup_measure_starts_the_song() -> None:
    # an anacrusis of one eighth, then a full bar: the first downbeat comes after 0.25 s at 120 bpm
    xml = voice_score(
        [
            measure(0, tempo(120), note("G4", 2, "and"), implicit=True),
            measure(1, note("C5", 8, "now"), note("B4", 8, "we")),
        ]
    )
    s = parse(xml)
    assert onsets(s) == pytest.approx([0.0, 0.25, 1.25])


def test_ties_merge_into_one_note() -> None:
    xml = voice_score(
        [
            measure(1, tempo(60), note("C4", 4, "a"), note("D4", 4, "long", tie="start"), note("D4", 8, tie="stop")),
            measure(2, note("E4", 16, "end")),
        ]
    )
    s = parse(xml)
    assert [n.lyric for n in s.notes] == ["a", "long", "end"]
    assert s.notes[1].duration_s == pytest.approx(3.0)
    assert onsets(s) == pytest.approx([0.0, 1.0, 4.0])


def test_tie_across_the_barline_merges() -> None:
    xml = voice_score(
        [
            measure(1, tempo(60), note("C4", 12, "a"), note("G4", 4, "hold", tie="start")),
            measure(2, note("G4", 8, tie="stop"), note("E4", 8, "b")),
        ]
    )
    s = parse(xml)
    assert [(n.lyric, n.duration_s) for n in s.notes] == [("a", 3.0), ("hold", 3.0), ("b", 2.0)]


def test_chord_sings_top_note() -> None:
    xml = voice_score(
        [measure(1, tempo(120), note("C4", 8, "chord"), note("G4", 8, chord=True), note("E4", 8, chord=True))]
    )
    s = parse(xml)
    assert len(s.notes) == 1
    assert s.notes[0].midi == midi_of("G4")


def test_grace_notes_without_words_take_no_time() -> None:
    # an ornament; a grace note with words is sung (test_realworld_scores.py)
    xml = voice_score(
        [measure(1, tempo(120), note("C4", 4, "a"), note("B4", 0, grace=True), note("D4", 4, "b"), rest(8))]
    )
    s = parse(xml)
    assert [n.lyric for n in s.notes] == ["a", "b"]
    assert onsets(s) == pytest.approx([0.0, 0.5])


def test_melisma_and_syllabic_marks() -> None:
    xml = voice_score(
        [
            measure(
                1,
                tempo(120),
                note("C4", 4, "Glo", syllabic="begin"),
                note("D4", 4),
                note("E4", 4),
                note("F4", 4, "ria", syllabic="end"),
            )
        ]
    )
    s = parse(xml)
    assert [(n.lyric, n.syllabic, n.melisma) for n in s.notes] == [
        ("Glo", "begin", False),
        (None, "single", True),
        (None, "single", True),
        ("ria", "end", False),
    ]


def test_rests_tile_the_song() -> None:
    xml = voice_score(
        [
            measure(1, tempo(120), rest(4), note("C4", 4, "a"), rest(2), rest(2), note("D4", 4, "b")),
            measure(2, rest(16)),
        ]
    )
    s = parse(xml)
    assert [type(e).__name__ for e in s.events] == ["Rest", "Note", "Rest", "Note", "Rest"]
    assert s.events[2].duration_s == pytest.approx(0.5)  # the two eighth rests merged
    ends = [e.onset_s for e in s.events[1:]]
    assert ends == pytest.approx([e.end_s for e in s.events[:-1]])
    assert s.duration_s == pytest.approx(4.0)


def test_verse_selection() -> None:
    xml = voice_score(
        [
            measure(
                1,
                tempo(120),
                note("C4", 8, [Lyric("one", number=1), Lyric("two", number=2)]),
                note("D4", 8, [Lyric("sun", number=1), Lyric("moon", number=2)]),
            )
        ]
    )
    assert [n.lyric for n in parse(xml).notes] == ["one", "sun"]
    assert [n.lyric for n in parse(xml, verse=2).notes] == ["two", "moon"]
    with pytest.raises(NoLyrics, match="verse 3"):
        parse(xml, verse=3)
    with pytest.raises(ScoreError, match="verse must be 1 or more"):
        parse(xml, verse=0)


def _two_parts() -> bytes:
    piano = part([measure(1, tempo(120), note("C3", 16))])
    voice = part([measure(1, note("E4", 8, "hel", syllabic="begin"), note("F4", 8, "lo", syllabic="end"))])
    return score(("Piano", piano), ("Soprano", voice))


def test_part_with_lyrics_is_chosen() -> None:
    s = parse(_two_parts())
    assert s.part_name == "Soprano"
    assert [n.lyric for n in s.notes] == ["hel", "lo"]


def test_part_forced_by_number_or_name() -> None:
    assert parse(_two_parts(), part=2).part_name == "Soprano"
    assert parse(_two_parts(), part="soprano").part_name == "Soprano"
    with pytest.raises(NoLyrics, match="Piano"):
        parse(_two_parts(), part=1)
    with pytest.raises(PartNotFound, match="part 3 does not exist"):
        parse(_two_parts(), part=3)
    with pytest.raises(PartNotFound, match="'Piano', 'Soprano'"):
        parse(_two_parts(), part="Alto")


def test_repeats_are_expanded_and_second_pass_sings_verse_two() -> None:
    xml = voice_score(
        [
            measure(
                1,
                tempo(120),
                note("C4", 8, [Lyric("first", number=1), Lyric("second", number=2)]),
                note("D4", 8, [Lyric("time", number=1), Lyric("round", number=2)]),
                repeat="backward",
            ),
            measure(2, note("E4", 16, "end")),
        ]
    )
    s = parse(xml)
    assert [n.lyric for n in s.notes] == ["first", "time", "second", "round", "end"]
    assert onsets(s) == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])
    assert not s.warnings


def test_breath_mark_and_xml_lang() -> None:
    xml = voice_score(
        [
            measure(
                1,
                tempo(120),
                note("C4", 8, Lyric("ni", lang="zh-CN"), breath=True),
                note("D4", 8, Lyric("hao", lang="zh-CN")),
            )
        ]
    )
    s = parse(xml)
    assert [n.breath_after for n in s.notes] == [True, False]
    assert s.lang == "zh"


def test_mxl_reads_like_the_plain_file() -> None:
    xml = voice_score([measure(1, tempo(90), note("C4", 4, "a"), note("E4", 12, "b"))])
    plain = parse(xml)
    packed = parse(to_mxl(xml), "test.mxl")
    assert packed.events == plain.events
    assert onsets(packed) == pytest.approx([0.0, 60 / 90])


def test_only_rests_is_no_notes() -> None:
    with pytest.raises(NoNotes, match="no notes"):
        parse(voice_score([measure(1, rest(16))]))


def test_no_lyrics_is_an_error() -> None:
    with pytest.raises(NoLyrics, match="no lyrics"):
        parse(voice_score([measure(1, note("C4", 16))]))


def test_no_lyrics_anywhere_is_refused_before_music21_reads_the_score(monkeypatch: pytest.MonkeyPatch) -> None:
    from singer_tasks.score import read

    def music21_must_not_run(*_: object) -> None:
        raise AssertionError("music21 read a score that has no lyrics at all")

    monkeypatch.setattr(read, "_to_music21", music21_must_not_run)
    quartet = [measure(i, note("C4", 4), note("E4", 4), note("G4", 8)) for i in range(1, 200)]
    with pytest.raises(NoLyrics, match=r"test\.musicxml has no lyrics; add lyrics"):
        parse(voice_score(quartet))
    with pytest.raises(NoLyrics, match="no lyrics"):
        parse(voice_score(quartet), part=1)  # asking for a part gives it no lyrics either


def test_song_length_limit() -> None:
    xml = voice_score([measure(i, note("C4", 16, "la")) for i in range(1, 5)])  # 8 s at the default 120
    assert parse(xml).duration_s == pytest.approx(8.0)
    with pytest.raises(ScoreError, match="over the limit of 5 s") as e:
        parse(xml, limits=ScoreLimits(max_song_s=5))
    assert e.value.code == "song_too_long" and isinstance(e.value, ScoreTooLarge)


def test_events_are_typed_score_values() -> None:
    s = parse(voice_score([measure(1, tempo(120), rest(4), note("C4", 12, "a"))]))
    assert isinstance(s.events[0], Rest) and isinstance(s.events[1], Note)
