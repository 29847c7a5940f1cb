"""Parse stage on scores in the shapes real files have (issue: real-world scores); each answer is known
by construction: the verse sung in each bar, the part chosen, the song's length, the notes held."""

from __future__ import annotations

import math

import pytest

from singer_tasks.errors import NoLyrics, PartNotFound, PitchOutOfRange, UnreadableScore
from singer_tasks.score.model import Note, Rest, Score
from singer_tasks.score.read import in_words, parse_score
from tests.singer_tasks.fixtures.scores.realworld import Ly, n, one_part, partwise, satb
from tests.singer_tasks.fixtures.scores.xmlbuild import measure, part, rest, tempo


def parse(xml: bytes, **kw: object) -> Score:
    return parse_score(xml, "real.musicxml", **kw)  # type: ignore[arg-type]


def lyrics(s: Score) -> list[str | None]:
    return [x.lyric for x in s.notes]


def two_verses(a: str, b: str, pitch: str = "C4") -> list[str]:
    return [
        n(pitch, 8, Ly(a, number="1"), Ly(b, number="2")),
        n(pitch, 8, Ly(a + "2", number="1"), Ly(b + "2", number="2")),
    ]


# --- verses -----------------------------------------------------------------------------------------


def test_implicit_and_repeated_bar_numbers_do_not_switch_verses() -> None:
    # a pickup numbered 0 (implicit), then bars numbered 1, 1 again (a notation program's "X1" split
    # bar) and "X1": no repeat anywhere, so every bar sings verse 1 (2 when asked)
    bars = [
        measure(0, tempo(120), n("G4", 4, Ly("up", number="1"), Ly("UP", number="2")), implicit=True),
        measure(1, *two_verses("a", "A")),
        measure(1, *two_verses("b", "B")),
        measure("X1", *two_verses("c", "C"), implicit=True),
        measure(2, *two_verses("d", "D")),
    ]
    xml = one_part(bars)
    assert lyrics(parse(xml)) == ["up", "a", "a2", "b", "b2", "c", "c2", "d", "d2"]
    assert lyrics(parse(xml, verse=2)) == ["UP", "A", "A2", "B", "B2", "C", "C2", "D", "D2"]


def test_a_repeated_bar_sings_the_next_verse_on_its_second_pass() -> None:
    bars = [
        measure(1, tempo(120), *two_verses("a", "A"), repeat="backward"),
        measure(1, *two_verses("b", "B")),  # same number as the repeated bar, but sung once
    ]
    s = parse(one_part(bars))
    assert lyrics(s) == ["a", "a2", "A", "A2", "b", "b2"]


def test_text_verse_numbers_translation_and_chorus() -> None:
    # line "1" and "2" are verses, "1translation" a translation (xml:lang en), "chorus" a refrain sung
    # by every verse where the verse has no syllable
    def verse_note(p: str, one: str, two: str, tr: str) -> str:
        return n(p, 4, Ly(one, number="1"), Ly(two, number="2"), Ly(tr, number="1translation", lang="en"))

    bars = [
        measure(1, tempo(120), verse_note("C4", "eins", "zwei", "one"), verse_note("D4", "und", "und", "and"), rest(8)),
        measure(2, n("E4", 8, Ly("la", number="chorus")), n("F4", 8, Ly("lu", number="chorus"))),
    ]
    s = parse(one_part(bars))
    assert lyrics(s) == ["eins", "und", "la", "lu"]
    assert [(ln.label, ln.kind, ln.verse) for ln in s.lines] == [
        ("1", "verse", 1),
        ("2", "verse", 2),
        ("chorus", "chorus", 0),
        ("1translation", "translation", 0),
    ]
    assert [ln.label for ln in s.translations] == ["1translation"]
    assert lyrics(parse(one_part(bars), verse=2)) == ["zwei", "und", "la", "lu"]
    translated = parse(one_part(bars), verse="1translation")
    assert lyrics(translated) == ["one", "and", "la", "lu"] and translated.lang == "en"
    with pytest.raises(NoLyrics, match="1translation"):
        parse(one_part(bars), verse=3)  # the translation is not verse 3, and the error lists it


def test_lyric_name_attribute_does_not_merge_lines() -> None:
    # Finale writes name="verse" on every line: the number still tells the lines apart
    lines = [Ly("x", number="1", name="verse"), Ly("y", number="2", name="verse")]
    bars = [measure(1, tempo(120), n("C4", 8, *lines), n("D4", 8, *lines))]
    assert lyrics(parse(one_part(bars), verse=2)) == ["y", "y"]


def test_refrain_written_once_is_sung_by_every_verse() -> None:
    bars = [
        measure(1, tempo(120), *two_verses("a", "A")),
        measure(2, n("E4", 16, Ly("refrain", number="1"))),
    ]
    assert lyrics(parse(one_part(bars), verse=2)) == ["A", "A2", "refrain"]


def test_a_close_written_once_as_the_second_line_is_sung_by_the_first_verse_too() -> None:
    # a Bach chorale's layout: "1." and "2." under the repeated opening, then the rest of the text once,
    # numbered 2 because it follows the second pass
    bars = [
        measure(1, tempo(120), *two_verses("a", "A"), repeat="backward"),
        measure(2, n("E4", 8, Ly("then", number="2")), n("F4", 8, Ly("end", number="2"))),
    ]
    assert lyrics(parse(one_part(bars))) == ["a", "a2", "A", "A2", "then", "end"]
    assert lyrics(parse(one_part(bars), verse=2)) == ["A", "A2", "A", "A2", "then", "end"]


def test_a_bar_held_by_the_first_verse_keeps_it_when_the_verse_goes_on_later() -> None:
    # verse 1 holds its syllable through bar 2 where verse 2 has words of its own, then sings again:
    # bar 2 is not a close written once, so verse 1 does not borrow verse 2's words there
    bars = [
        measure(1, tempo(120), n("C4", 16, Ly("long", number="1", extend="start"), Ly("short", number="2"))),
        measure(2, n("D4", 8, Ly(None, extend="stop")), n("D4", 8, Ly("words", number="2"))),
        measure(3, *two_verses("c", "C")),
    ]
    s = parse(one_part(bars))
    assert "words" not in lyrics(s) and lyrics(s)[-2:] == ["c", "c2"]


# --- ties, holds ------------------------------------------------------------------------------------


def test_a_lyric_on_a_tied_to_note_starts_a_new_syllable() -> None:
    bars = [
        measure(1, tempo(60), n("C4", 8, "love", tie="start"), n("C4", 8, "ly", tie="stop")),
        measure(2, n("D4", 8, "day", tie="start"), n("D4", 8, tie="stop")),
    ]
    s = parse(one_part(bars))
    assert [(x.lyric, x.onset_s, x.duration_s) for x in s.notes] == [
        ("love", 0.0, 2.0),
        ("ly", 2.0, 2.0),
        ("day", 4.0, 4.0),
    ]


def test_holds_follow_slurs_extend_lines_and_hyphens_only() -> None:
    bars = [
        # "ah" with an extend line over two notes: held
        measure(1, tempo(120), n("C4", 4, Ly("ah", extend="start")), n("D4", 4), n("E4", 4), rest(4)),
        # "oh" slurred to the next note: held
        measure(2, n("C4", 4, "oh", slur="start"), n("D4", 4, slur="stop"), rest(8)),
        # "Glo-" ... "ria": lyric-less notes inside a word: held
        measure(3, n("C4", 4, Ly("Glo", "begin")), n("D4", 4), n("E4", 4), n("F4", 4, Ly("ria", "end"))),
        # "so" then an unmarked run of four notes: an interlude, silent
        measure(4, n("C4", 4, "so"), n("D4", 4), n("E4", 4), n("F4", 4)),
        measure(5, n("G4", 4), rest(12)),
    ]
    s = parse(one_part(bars))
    assert [(x.lyric, x.melisma) for x in s.notes] == [
        ("ah", False),
        (None, True),
        (None, True),
        ("oh", False),
        (None, True),
        ("Glo", False),
        (None, True),
        (None, True),
        ("ria", False),
        ("so", False),
    ]
    assert any("4 note(s) without a lyric were left silent (bar(s) 4, 5)" in w for w in s.warnings)


def test_a_short_unmarked_melisma_is_held_with_a_warning() -> None:
    bars = [measure(1, tempo(120), n("C4", 4, "ra"), n("D4", 4), n("E4", 4, "ta"), rest(4))]
    s = parse(one_part(bars))
    assert [(x.lyric, x.melisma) for x in s.notes] == [("ra", False), (None, True), ("ta", False)]
    assert any("held on the syllable before although no slur or extend line" in w for w in s.warnings)


def test_typed_extend_lines_continue_through_lyricless_notes() -> None:
    bars = [
        measure(
            1,
            tempo(120),
            n("C4", 4, Ly("ah", extend="typed-start")),
            n("D4", 4, Ly(None, extend="continue")),
            n("E4", 4, Ly(None, extend="stop")),
            n("F4", 4),
        ),
        measure(2, n("G4", 4), n("A4", 4), rest(8)),
    ]
    s = parse(one_part(bars))
    assert [x.melisma for x in s.notes] == [False, True, True]  # the three notes after the line's end are silent


# --- parts ------------------------------------------------------------------------------------------


def test_choir_sings_the_soprano_by_default_and_says_so() -> None:
    s = parse(satb())
    assert (s.part_name, s.part_id, s.part_reason) == ("Soprano", "P1", "the top voice of the choir")
    assert set(lyrics(s)) == {"high"}
    assert any("sang part 'Soprano' (P1)" in w and "Tenor" in w for w in s.warnings)


def test_choir_abbreviated_or_unnamed_picks_the_top_voice() -> None:
    s = parse(satb(names=("T.", "S.", "A.", "B.")))  # out of score order: still the soprano
    assert s.part_name == "S." and set(lyrics(s)) == {"mid"}
    unnamed = parse(satb(names=(None, None, None, None)))
    assert (unnamed.part_name, unnamed.part_id) == ("P1", "P1")  # shown by id, never an object number
    assert unnamed.part_reason == "the highest of the parts that carry the lyrics"


def test_early_music_part_names_and_a_part_with_a_few_words_only() -> None:
    # trecento editions name the voices C (cantus), Ct (contratenor) and T (tenor); a voice that sings the
    # "Amen" alone does not carry the tune even where its name would rank it first
    def voice(pitch: str, word: str, sung: int) -> list[str]:
        notes = [n(pitch, 4, word) if i < sung else n(pitch, 4) for i in range(8)]
        return part([measure(1, tempo(120), *notes[:4]), measure(2, *notes[4:])])

    named = partwise(
        ("P1", "T", voice("C4", "low", 8)), ("P2", "Ct", voice("E4", "mid", 8)), ("P3", "C", voice("G4", "top", 8))
    )
    assert (parse(named).part_name, parse(named).part_reason) == ("C", "the top voice of the choir")
    amen = partwise(("P1", "Soprano", voice("G4", "amen", 1)), ("P2", "Alto", voice("E4", "words", 8)))
    assert (parse(amen).part_name, parse(amen).part_reason) == ("Alto", "the top voice of the choir")


def test_solo_part_wins_over_the_choir() -> None:
    choir = satb()
    solo = part([measure(1, tempo(120), *(n("G4", 4, "solo") for _ in range(2)), rest(8))])
    xml = choir.replace(
        b"</part-list>", b'<score-part id="Solo1"><part-name>Solo Voice</part-name></score-part></part-list>'
    )
    xml = xml.replace(b"</score-partwise>", b'<part id="Solo1">' + "".join(solo).encode() + b"</part></score-partwise>")
    s = parse(xml)
    assert (s.part_name, s.part_id, s.part_reason) == ("Solo Voice", "Solo1", "the solo part")


def test_parts_by_id_position_and_name() -> None:
    xml = satb()
    assert parse(xml, part="P3").part_name == "Tenor"
    assert parse(xml, part="p4").part_name == "Bass"
    assert parse(xml, part=2).part_name == "Alto"
    assert parse(xml, part="2").part_name == "Alto"
    assert parse(xml, part="alto").part_id == "P2"
    with pytest.raises(PartNotFound, match="'Soprano', 'Alto', 'Tenor', 'Bass'"):
        parse(xml, part="Descant")
    unnamed = satb(names=(None, "Alto", None, "Bass"))
    with pytest.raises(PartNotFound, match=r"'P1', 'Alto', 'P3', 'Bass'"):
        parse(unnamed, part="Tenor")


# --- voices within a part ---------------------------------------------------------------------------


def _voice2(*notes: str) -> str:
    """Notes of voice 2 after a <backup> over a whole 4/4 bar (4 divisions per quarter)."""
    return "<backup><duration>16</duration></backup>" + "".join(
        x.replace("<voice>1</voice>", "<voice>2</voice>") for x in notes
    )


def test_the_tune_is_sung_from_whichever_voice_carries_it_in_a_bar() -> None:
    # bar 2: voice 1 rests while voice 2 sings; bar 3: verse 2 has its own rhythm, written as voice 2
    def verses(pitch: str, dur: int, one: str, two: str) -> str:
        return n(pitch, dur, Ly(one), Ly(two, number="2"))

    bars = [
        measure(1, tempo(120), verses("C5", 8, "one", "uno"), verses("D5", 8, "two", "dos")),
        measure(2, rest(16), _voice2(verses("E4", 8, "three", "tres"), verses("F4", 8, "four", "cua"))),
        measure(3, n("G5", 16, "five"),
                _voice2(n("G4", 4, Ly("cin", number="2")), n("A4", 4, Ly("co", number="2")), rest(8))),
    ]  # fmt: skip
    first = parse(one_part(bars))
    assert lyrics(first) == ["one", "two", "three", "four", "five"]
    assert [x.midi for x in first.notes] == [72.0, 74.0, 64.0, 65.0, 79.0]
    second = parse(one_part(bars), verse=2)
    assert lyrics(second) == ["uno", "dos", "tres", "cua", "cin", "co"]
    assert [x.midi for x in second.notes][-2:] == [67.0, 69.0]
    assert [x.onset_s for x in second.notes][-2:] == pytest.approx([4.0, 4.5])


def test_the_voice_with_the_words_is_the_tune_when_voice_1_has_none() -> None:
    # the writer put the melody in voice 2 and a wordless line in voice 1, throughout
    bars = [
        measure(k, *([tempo(120)] if k == 1 else []), n("C4", 16), _voice2(n("E5", 8, word), n("D5", 8, "la")))
        for k, word in ((1, "one"), (2, "two"))
    ]
    s = parse(one_part(bars))
    assert lyrics(s) == ["one", "la", "two", "la"] and {x.midi for x in s.notes} == {76.0, 74.0}


def test_a_melisma_in_the_first_voice_is_not_taken_over_by_a_second_voice_with_words() -> None:
    # soprano and alto on one staff: the soprano holds "Glo-" under a slur while the alto sings words
    bars = [
        measure(1, tempo(120), n("C5", 8, "Glo", syllabic="begin", slur="start"), n("D5", 8, slur="stop"),
                _voice2(n("A4", 8, "al"), n("B4", 8, "to"))),
        measure(2, n("E5", 16, "ria", syllabic="end"), _voice2(n("C4", 16, "sings"))),
    ]  # fmt: skip
    s = parse(one_part(bars))
    assert lyrics(s) == ["Glo", None, "ria"] and [x.midi for x in s.notes] == [72.0, 74.0, 76.0]


def _grace(pitch: str, *lyrics: Ly | str, kind: str = "16th") -> str:
    """A grace note (no duration, its written value `kind`) with lyrics."""
    return (
        n(pitch, 0, *lyrics)
        .replace("<duration>0</duration>", "")
        .replace("<pitch>", "<grace/><pitch>", 1)
        .replace("<voice>", f"<type>{kind}</type><voice>", 1)
    )


def test_a_grace_note_with_words_is_sung_and_never_loses_its_syllable() -> None:
    # 120 bpm: a quarter is 0.5 s, a 16th 0.125 s
    bars = [
        measure(1, tempo(120), n("C4", 4, "one"), _grace("E4", "gra"), n("D4", 4, "two"), n("E4", 8, "three")),
        measure(2, _grace("G4", "long", kind="eighth"), n("F4", 4), n("E4", 4, "four"), _grace("D4", "end"), rest(8)),
        measure(3, n("C4", 8, "five"), _grace("D4", Ly("other", number="2")), n("C4", 8, "six")),
    ]  # fmt: skip
    s = parse(one_part(bars))
    assert lyrics(s) == ["one", "gra", "two", "three", "long", None, "four", "end", "five", "six"]
    timing = [(x.midi, round(x.onset_s, 3), round(x.duration_s, 3)) for x in s.notes]
    assert timing == [
        (60.0, 0.0, 0.5), (64.0, 0.5, 0.125), (62.0, 0.625, 0.375), (64.0, 1.0, 1.0),  # on the beat, from "two"
        (67.0, 2.0, 0.25), (65.0, 2.25, 0.25),  # an eighth, at most half the note; F4 holds "long"
        (64.0, 2.5, 0.375), (62.0, 2.875, 0.125),  # before a rest: the end of the note before it
        (60.0, 4.0, 1.0), (60.0, 5.0, 1.0),  # verse 2's grace note is an ornament in verse 1: not sung
    ]  # fmt: skip
    assert s.notes[5].melisma and not s.warnings


def test_cue_notes_are_silent_and_their_words_are_not_sung() -> None:
    # <cue/>: another part's line shown small in the vocal staff (MusicXML: a silent note)
    def cue(pitch: str, dur: int, *words: str) -> str:
        return n(pitch, dur, *words).replace("<note>", "<note><cue/>", 1)

    bars = [
        measure(1, tempo(120), n("C4", 8, "la"), cue("G5", 4), cue("A5", 4)),  # not held as a melisma
        measure(2, rest(16), _voice2(cue("E5", 8, "ten"), cue("F5", 8, "or"))),  # the tenor's cue, in voice 2
        measure(3, n("D4", 16, "lo")),
    ]
    s = parse(one_part(bars))
    assert [(x.lyric, x.midi, x.onset_s) for x in s.notes] == [("la", 60.0, 0.0), ("lo", 62.0, 4.0)]
    assert not s.warnings and s.duration_s == pytest.approx(6.0)


# --- pitch ----------------------------------------------------------------------------------------------


def _transposing(transpose: str, *, octave_clef: bool = False) -> bytes:
    """One part written as the player reads it, with the <transpose> that gives its sound."""
    shift = (
        '<direction><direction-type><octave-shift type="down" size="8"/></direction-type></direction>',
        '<direction><direction-type><octave-shift type="stop" size="8"/></direction-type></direction>',
    )
    bars = [measure(1, tempo(120), n("C5", 4, "do"), n("D5", 4, "re"), shift[0], n("E6", 4, "mi"), shift[1],
                    n("F5", 4, "fa"))]  # fmt: skip
    xml = one_part(bars, name="Tenor")
    clef = "<clef><sign>G</sign><line>2</line>" + ("<clef-octave-change>-1</clef-octave-change>" if octave_clef else "")
    return xml.replace(b"<clef><sign>G</sign><line>2</line>", clef.encode()).replace(
        b"</clef></attributes>", f"</clef>{transpose}</attributes>".encode(), 1
    )


def test_a_part_for_a_transposing_instrument_is_sung_at_its_sounding_pitch() -> None:
    written = [72.0, 74.0, 88.0, 77.0]  # C5 D5 E6 F5: an octave-shift line is already sounding pitch
    assert [x.midi for x in parse(_transposing("")).notes] == written
    tenor = "<transpose><diatonic>0</diatonic><chromatic>0</chromatic><octave-change>-1</octave-change></transpose>"
    assert [x.midi for x in parse(_transposing(tenor, octave_clef=True)).notes] == [m - 12 for m in written]
    clarinet = "<transpose><diatonic>-1</diatonic><chromatic>-2</chromatic></transpose>"  # in B-flat
    s = parse(_transposing(clarinet))
    assert [x.midi for x in s.notes] == [m - 2 for m in written] and lyrics(s) == ["do", "re", "mi", "fa"]


def test_a_sung_note_beyond_midi_is_refused_and_one_beyond_singers_is_warned() -> None:
    def song(octave: str) -> bytes:
        bars = [measure(1, tempo(120), n("C4", 8, "la"), n("D4", 8, "lo")), measure(2, n("E4", 16, "li"))]
        return one_part(bars).replace(b"<octave>4</octave>", f"<octave>{octave}</octave>".encode(), 2)

    for wrong in ("12", "-3", "99999999999999999999"):  # C12, C-3, an absurd octave: the f0 would overflow
        with pytest.raises(PitchOutOfRange, match=r"2 sung note\(s\) .* C-1 to G9 \(bar\(s\) 1\)") as e:
            parse(song(wrong))
        assert e.value.code == "pitch_out_of_range"
    high = parse(song("8"))  # C8 and D8: MIDI can hold them, no singer reaches them
    assert [x.midi for x in high.notes] == [108.0, 110.0, 64.0]
    assert any("2 sung note(s) lie outside every singer's range" in w and "bar(s) 1)" in w for w in high.warnings)
    assert not any("singer's range" in w for w in parse(song("5")).warnings)


# --- length, tempo, errors ----------------------------------------------------------------------------


def test_the_song_spans_the_whole_score_trailing_rests_and_longer_parts_included() -> None:
    voice = part([measure(1, tempo(120), n("C4", 4, "la"), rest(12)), measure(2, rest(16)), measure(3, rest(16))])
    assert parse(partwise(("P1", "Voice", voice))).duration_s == pytest.approx(6.0)
    # a piano part running a bar longer than the voice: the song lasts as long as the score
    piano = part([measure(k, n("C3", 16)) for k in range(1, 5)])
    s = parse(partwise(("P1", "Voice", voice), ("P2", "Piano", piano)))
    assert s.duration_s == pytest.approx(8.0)
    assert isinstance(s.events[-1], Rest) and s.events[-1].end_s == pytest.approx(8.0)


@pytest.mark.parametrize("bad", ["0", "-60", "NaN", "inf", "1e9", "5"])
def test_absurd_tempos_are_ignored_with_a_warning(bad: str) -> None:
    mark = (
        '<direction placement="above"><direction-type><metronome><beat-unit>quarter</beat-unit>'
        f'<per-minute>{bad}</per-minute></metronome></direction-type><sound tempo="{bad}"/></direction>'
    )
    bars = [measure(1, tempo(60), n("C4", 8, "a"), n("D4", 8, "b")), measure(2, mark, n("E4", 16, "c"))]
    s = parse(one_part(bars))
    assert [x.onset_s for x in s.notes] == pytest.approx([0.0, 2.0, 4.0])  # 60 bpm throughout
    assert math.isfinite(s.duration_s) and s.duration_s == pytest.approx(8.0)
    assert any("ignored" in w and "10 to 1000" in w for w in s.warnings)


@pytest.mark.parametrize(
    ("written", "sound", "bpm"),
    [("c. 72", None, 72.0), ("ca 72", "72", 72.0), ("60-66", None, 63.0), ("60 \u2013 70", None, 65.0),
     ("Allegro", "132", 132.0)],
)  # fmt: skip
def test_a_metronome_written_as_text_gives_its_number(written: str, sound: str | None, bpm: float) -> None:
    # music21 reads no tempo from such a per-minute, and drops the direction's <sound tempo> with it
    mark = (
        '<direction placement="above"><direction-type><metronome><beat-unit>quarter</beat-unit>'
        f"<per-minute>{written}</per-minute></metronome></direction-type>"
        + (f'<sound tempo="{sound}"/>' if sound else "")
        + "</direction>"
    )
    s = parse(one_part([measure(1, mark, n("C4", 4, "a"), n("D4", 4, "b"), n("E4", 8, "c"))]))
    assert [x.onset_s for x in s.notes] == pytest.approx([0.0, 60 / bpm, 120 / bpm])  # not the default 120 bpm


def test_anything_unreadable_is_unreadable_score_in_words() -> None:
    broken = one_part([measure(1, n("C4", 4, "a"))]).replace(b"<duration>4</duration>", b"<duration>x</duration>")
    with pytest.raises(UnreadableScore) as e:
        parse(broken)
    assert e.value.code == "unreadable_score"
    assert "Error" not in str(e.value) and "Exception" not in str(e.value) and ".py" not in str(e.value)
    assert in_words(ValueError('File "/usr/lib/x.py", line 3: bad step Q')) == "bad step Q"
    assert in_words(ZeroDivisionError()) == "the file holds something this reader does not understand"


def test_notes_are_typed_and_never_lose_a_lyric() -> None:
    s = parse(satb())
    assert all(isinstance(e, (Note, Rest)) for e in s.events)
    assert s.parts[2].lyric_notes == 8 and s.parts[0].lyric_notes == 5
