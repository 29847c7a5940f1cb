"""A song's musical options reach the sound: a key shift moves the sung pitch by that many semitones, a
tempo factor changes the song's length, both through `plan_song` (the notes change before phonemizing,
no resampling); a verse label and a part id choose the line sung; the quick score info agrees with
what the parser sings."""

from __future__ import annotations

import numpy as np
import pytest

from singer_tasks.render.pipeline import render_phrases
from singer_tasks.render.plan import Plan, plan_song, transform_score
from singer_tasks.score.info import ScoreInfo, file_stem, read_score_info, verse_argument
from singer_tasks.score.limits import ScoreLimits
from singer_tasks.score.model import Note, Rest, Score
from singer_tasks.voices.loader import get_voice
from tests.singer_tasks.fixtures.scores.xmlbuild import Lyric, measure, note, part, rest, score, tempo, voice_score

from .voice_measure import yin_pitch

HELD = voice_score([measure(1, tempo(90), note("A3", 8, "la"), note("A3", 8, "la")), measure(2, note("A3", 12, "la"),
                    rest(4))])  # fmt: skip


def sing(plan: Plan) -> tuple[np.ndarray, int]:
    voice = get_voice("builtin")
    return render_phrases(plan.phrases, voice, min_duration_s=plan.score_duration_s), voice.sample_rate


def plan(data: bytes = HELD, **options: object) -> Plan:
    return plan_song(data, "held.musicxml", get_voice("builtin").manifest, ScoreLimits(), **options)  # type: ignore[arg-type]


def median_f0(wave: np.ndarray, sr: int) -> float:
    f0 = yin_pitch(wave, sr)
    voiced = f0[(f0 > 60) & (f0 < 1000)]
    assert len(voiced) > 20
    return float(np.median(voiced))


def test_a_key_shift_of_three_sings_three_semitones_higher() -> None:
    plain, shifted = sing(plan()), sing(plan(key_shift=3))
    measured = 1200 * np.log2(median_f0(*shifted) / median_f0(*plain))
    print(f"key shift +3: measured {measured:.1f} cents")
    assert measured == pytest.approx(300.0, abs=25.0)
    assert median_f0(*plain) == pytest.approx(220.0, rel=0.03)  # A3 as written


def test_a_tempo_factor_of_two_sings_the_song_in_half_the_time() -> None:
    (plain, sr), (fast, _) = sing(plan()), sing(plan(tempo_factor=2.0))
    # 2 bars of 4/4 at 90 bpm = 5.33 s; twice as fast, 2.67 s (a phrase may add a short pad at either end).
    assert len(plain) / sr == pytest.approx(16 / 3, abs=0.35)
    assert len(fast) / sr == pytest.approx(8 / 3, abs=0.35)
    assert len(fast) / len(plain) == pytest.approx(0.5, abs=0.06)
    # The pitch stays: tempo is applied to the notes, not by resampling the audio.
    assert median_f0(fast, sr) == pytest.approx(220.0, rel=0.03)


def test_the_song_limit_applies_to_what_is_sung() -> None:
    limits = ScoreLimits(max_song_s=4.0)  # the score lasts 5.33 s
    fast = plan_song(HELD, "held.musicxml", get_voice("builtin").manifest, limits, tempo_factor=2.0)
    assert fast.song_end_s < 4.0
    from singer_tasks.errors import SongTooLong

    with pytest.raises(SongTooLong):
        plan_song(HELD, "held.musicxml", get_voice("builtin").manifest, limits)
    with pytest.raises(SongTooLong, match=r"lasts 1\d s at 0\.5 times the written tempo and the limit is 8 s"):
        plan_song(HELD, "held.musicxml", get_voice("builtin").manifest, ScoreLimits(max_song_s=8.0), tempo_factor=0.5)


def test_transform_score_moves_every_note() -> None:
    original = Score((Note(0.0, 1.0, 60.0, "la"), Rest(1.0, 0.5), Note(1.5, 2.0, 62.0, "li")))
    moved = transform_score(original, key_shift=-2, tempo_factor=0.5)
    assert [(e.onset_s, e.duration_s) for e in moved.events] == [(0.0, 2.0), (2.0, 1.0), (3.0, 4.0)]
    assert [n.midi for n in moved.notes] == [58.0, 60.0] and moved.duration_s == 7.0
    assert transform_score(original) is original


def two_verse_choir() -> bytes:
    sop = [[Lyric(a, number=1), Lyric(b, number=2)] for a, b in (("la", "mi"), ("li", "ma"))]
    soprano = measure(1, tempo(120), *[note("E4", 4, ly) for ly in sop], rest(8))
    alto = measure(1, *[note("C4", 4, w) for w in ("do", "re")], rest(8))
    return score(("Soprano", part([soprano])), ("Alto", part([alto])))


def test_verse_labels_and_part_ids_choose_the_line() -> None:
    data = two_verse_choir()
    info = read_score_info(data, "choir.musicxml", ScoreLimits())
    assert info.title == "choir" and info.verses == ("1", "2")
    assert [(p.id, p.name, p.has_lyrics) for p in info.parts] == [("P1", "Soprano", True), ("P2", "Alto", True)]
    lyrics = {}
    for verse, part_id in (("1", None), ("2", None), ("1", "P2")):
        sung = plan(data, verse=verse_argument(info, verse, part_id), part=part_id).display["notes"]
        lyrics[(verse, part_id)] = [n["lyric"] for n in sung]
    assert lyrics == {("1", None): ["la", "li"], ("2", None): ["mi", "ma"], ("1", "P2"): ["do", "re"]}


def test_a_number_label_is_its_place_among_the_verses() -> None:
    # A chorale whose only line is numbered 2 sings it as verse 1 (parse_score counts verse lines).
    only_two = voice_score([measure(1, tempo(120), note("C4", 4, Lyric("ho", number=2)), rest(12))])
    info = read_score_info(only_two, "chorale.xml", ScoreLimits())
    assert info.verses == ("2",) and verse_argument(info, "2", None) == 1
    assert [n["lyric"] for n in plan(only_two, verse=verse_argument(info, "2", None)).display["notes"]] == ["ho"]
    assert verse_argument(info, "chorus", None) == "chorus"
    labelled = ScoreInfo("t", ("1", "2", "chorus", "1translation"))
    assert verse_argument(labelled, "2", None) == 2 and verse_argument(labelled, "1translation", None) == "1translation"


def test_titles_come_from_the_score_else_the_file_name() -> None:
    base = two_verse_choir()
    head = b'<score-partwise version="4.0">'

    def titled(xml: str) -> str:
        return read_score_info(base.replace(head, head + xml.encode()), "x.xml", ScoreLimits()).title

    assert titled("<work><work-title>Abide</work-title></work><movement-title>II</movement-title>") == "Abide"
    assert titled("<movement-title>  Largo   cantabile </movement-title>") == "Largo cantabile"
    credit = '<credit page="1"><credit-type>title</credit-type><credit-words>Ave Verum</credit-words></credit>'
    assert titled(credit) == "Ave Verum"
    assert file_stem("C:\\scores\\My Song.v2.mxl") == "My Song.v2" and file_stem(".mxl") == ".mxl"
    assert ScoreInfo.from_dict(read_score_info(base, "x.xml", ScoreLimits()).to_dict()) == read_score_info(
        base, "x.xml", ScoreLimits()
    )
