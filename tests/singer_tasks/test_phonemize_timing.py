"""Phoneme timing and phrasing: vowels on onsets, consonants before them, rests, breaths, splits."""

from __future__ import annotations

import itertools

import pytest

from singer_tasks.errors import NoLyrics, UnsupportedLanguage
from singer_tasks.phonemize import PhraseOptions, resolve_language, score_to_phrases
from singer_tasks.phonemize.dictionary import ARPABET_VOWELS, PhonemeDictionary
from singer_tasks.phonemize.phrases import FIRST_PHRASE_OVERLAP_S
from singer_tasks.phrase import Phrase
from singer_tasks.score.model import Note, Score
from tests.singer_tasks.fixtures.scores.songs import song

OPTS = PhraseOptions()


def words(p: Phrase) -> list[tuple[list[str], list[float]]]:
    """(phonemes, durations) per ph_num word."""
    out = []
    i = 0
    for n in p.ph_num:
        out.append((list(p.ph_seq[i : i + n]), list(p.ph_dur_s[i : i + n])))
        i += n
    return out


def note_words(p: Phrase) -> list[float]:
    """Duration of each word as its notes give it (a slurred note extends the word before)."""
    out: list[float] = []
    for dur, slur in zip(p.note_dur_s, p.note_slur, strict=True):
        if slur:
            out[-1] += dur
        else:
            out.append(dur)
    return out


VARIED = song(
    [
        ("rest", 1.0),
        ("C4", 0.5, "Twin", "begin"),
        ("C4", 0.5, "kle", "end"),
        ("G4", 0.5, "twin", "begin"),
        ("G4", 0.5, "kle", "end"),
        ("A4", 0.25, "lit", "begin"),
        ("B4", 0.25, None),
        ("A4", 0.5, "tle", "end", "breath"),
        ("G4", 1.0, "star"),
        ("rest", 0.1),
        ("F4", 0.5, "how"),
        ("F4", 0.5, "I"),
        ("rest", 2.0),
        ("E4", 0.5, "won", "begin"),
        ("E4", 1.5, "der", "end"),
    ]
)


def phrases(s: Score = VARIED, **kw: float) -> list[Phrase]:
    return score_to_phrases(s, language="en", options=PhraseOptions(**kw))


def test_phoneme_durations_sum_to_note_durations_word_by_word() -> None:
    for p in phrases():
        assert sum(p.ph_dur_s) == pytest.approx(sum(p.note_dur_s), abs=1e-9)
        assert [sum(d) for _, d in words(p)] == pytest.approx(note_words(p), abs=1e-9)


def test_each_sung_word_starts_with_its_vowel_on_the_note_onset() -> None:
    onsets = {round(n.onset_s, 9) for n in VARIED.notes if not n.melisma}
    seen = set()
    for p in phrases():
        t = p.offset_s
        for (ph, dur), note_name in zip(
            words(p), [n for n, s in zip(p.note_seq, p.note_slur, strict=True) if not s], strict=True
        ):
            if note_name != "rest":
                assert ph[0] in ARPABET_VOWELS, ph
                seen.add(round(t, 9))
            t += sum(dur)
    assert seen == onsets


def test_onset_consonants_take_time_from_the_previous_note_within_bounds() -> None:
    s = song([("rest", 0.5), ("C4", 0.5, "la"), ("D4", 0.5, "strong"), ("E4", 0.1, "la"), ("F4", 0.5, "strong")])
    (p,) = phrases(s)
    w = words(p)
    assert w[1][0][-3:] == ["s", "t", "r"]  # "la" ends with the s t r of "strong"
    assert all(d <= OPTS.consonant_s + 1e-12 for d in w[1][1][-3:])
    assert sum(w[1][1][-3:]) <= OPTS.borrow_frac * 0.5 + 1e-12
    assert w[2][0][:2] == ["ao", "ng"]
    assert w[3][0][-3:] == ["s", "t", "r"]  # after a 0.1 s note the cluster is squeezed
    assert sum(w[3][1][-3:]) <= OPTS.borrow_frac * 0.1 + 1e-12
    assert w[0][0] == ["SP", "l"]  # the rest lends the first l its time


def test_song_starting_on_a_consonant_sings_it_inside_the_first_note() -> None:
    (p,) = phrases(song([("C4", 1.0, "sun")]))
    assert p.offset_s == 0.0
    assert p.ph_seq[:2] == ("s", "ah")
    assert p.ph_dur_s[0] <= OPTS.consonant_s


def test_melisma_extends_the_vowel_over_slurred_notes() -> None:
    p = phrases()[0]
    i = p.note_seq.index("B4")
    assert p.note_slur[i] == 1 and p.note_slur[i - 1] == 0
    (_, dur) = next(w for w in words(p) if w[0][0] == "ih")  # "lit": one vowel over A4 + B4
    assert dur[0] > 0.25


def test_rests_become_sp_and_breath_marks_ap() -> None:
    p = phrases()[0]
    assert p.ph_seq[0] == "SP"
    (ap_word,) = [w for w in words(p) if w[0][0] == "AP"]
    # the breath takes breath_s from "tle" (0.5 s); "star"'s s t sit at its end, leaving AP at least half
    assert ap_word[0] == ["AP", "s", "t"]
    assert sum(ap_word[1]) == pytest.approx(min(OPTS.breath_s, OPTS.breath_frac * 0.5))
    assert ap_word[1][0] >= sum(ap_word[1]) / 2
    assert "SP" in p.ph_seq[1:-1]  # the 0.1 s rest is too short to split and stays inside
    assert p.note_seq.count("rest") == 4  # leading rest, breath, short rest, trailing rest


def test_phrases_split_at_long_rests_with_padding() -> None:
    ps = phrases()
    assert len(ps) == 2
    first, second = ps
    assert first.ph_seq[-1] == "SP" and second.ph_seq[0] == "SP"
    rest_start, rest_end = 6.1, 8.1  # the 2 s rest
    assert first.offset_s + first.duration_s == pytest.approx(rest_start + OPTS.tail_pad_s)
    # "wonder" starts with w: the second phrase starts head_pad_s before the w, which ends on the onset
    assert second.ph_seq[:3] == ("SP", "w", "ah")
    assert second.offset_s + sum(second.ph_dur_s[:2]) == pytest.approx(rest_end)
    assert second.offset_s == pytest.approx(rest_end - OPTS.head_pad_s - second.ph_dur_s[1])
    # "Twinkle" starts with t w: the first phrase starts head_pad_s before the t
    assert first.ph_seq[:3] == ("SP", "t", "w")
    assert first.offset_s == pytest.approx(1.0 - OPTS.head_pad_s - sum(first.ph_dur_s[1:3]))


def test_long_phrases_are_cut_at_note_onsets() -> None:
    notes = [(("C4", "E4", "G4", "C5")[i % 4], 0.5, "la") for i in range(40)]
    ps = phrases(song(notes), max_phrase_s=5.0)
    assert len(ps) >= 4
    assert all(p.duration_s <= 5.0 + OPTS.tail_pad_s + 1e-9 for p in ps)
    assert sum(sum(1 for n in p.note_seq if n != "rest") for p in ps) == 40
    for a, b in itertools.pairwise(ps):
        assert b.offset_s == pytest.approx(a.offset_s + a.duration_s)  # cut at a word boundary: contiguous
        assert b.ph_seq[0] == "aa"  # the next phrase starts on the vowel; its l ended the previous one


def test_first_phrase_cut_short_where_the_next_syllable_begins_unvoiced() -> None:
    # 0.5 s notes; the syllables at 2.0 s and 2.5 s begin with s, the one at 3.0 s with l
    lyrics = ["la", "la", "la", "la", "sa", "sa", "la", "la"] * 5
    notes = [(("C4", "E4", "G4", "C5")[i % 4], 0.5, lyric) for i, lyric in enumerate(lyrics)]
    whole = phrases(song(notes))
    ps = phrases(song(notes), first_phrase_s=3.0)
    assert len(ps) == len(whole) + 1
    first, second = ps[0], ps[1]
    # cut at the latest s onset (2.5 s), not at 3.0 s: the first phrase ends on the s, then sings the
    # cut note's first FIRST_PHRASE_OVERLAP_S, which the second phrase starts with (a cross-fade)
    assert first.ph_seq[-2:] == ("s", "aa") and second.ph_seq[0] == "aa"
    assert first.ph_dur_s[-1] == pytest.approx(FIRST_PHRASE_OVERLAP_S)
    assert first.note_seq[-1] == second.note_seq[0] and first.note_dur_s[-1] == pytest.approx(FIRST_PHRASE_OVERLAP_S)
    assert first.duration_s <= 3.0 + FIRST_PHRASE_OVERLAP_S + 1e-9
    assert second.offset_s == pytest.approx(first.offset_s + first.duration_s - FIRST_PHRASE_OVERLAP_S)
    assert ps[2:] == whole[1:]  # only the first phrase changes
    assert sum(sum(1 for n in p.note_seq if n != "rest") for p in ps) == len(notes) + 1  # the shared note


def test_first_phrase_cut_at_the_latest_onset_when_none_begins_unvoiced() -> None:
    notes = [(("C4", "E4", "G4", "C5")[i % 4], 0.5, "la") for i in range(16)]
    first, second = phrases(song(notes), first_phrase_s=3.0)[:2]
    assert first.ph_seq[-2:] == ("l", "aa") and first.duration_s <= 3.0 + FIRST_PHRASE_OVERLAP_S + 1e-9
    # the latest onset within 3 s of the phrase's start: the next one (0.5 s later) lies beyond
    assert second.offset_s - first.offset_s <= 3.0 < second.offset_s + 0.5 - first.offset_s


def test_a_short_first_phrase_is_left_alone() -> None:
    assert phrases(first_phrase_s=30.0) == phrases()
    with pytest.raises(ValueError, match="first_phrase_s"):
        PhraseOptions(first_phrase_s=-1.0)


def test_language_choice() -> None:
    assert resolve_language("EN", VARIED) == "en"
    assert resolve_language(None, Score(events=(Note(0, 1, 60, lyric="天"),))) == "zh"
    assert resolve_language(None, Score(events=(Note(0, 1, 60, lyric="sky"),))) == "en"
    assert resolve_language(None, Score(events=(Note(0, 1, 60, lyric="x"),), lang="zh")) == "zh"
    with pytest.raises(UnsupportedLanguage, match="'ko' \\(from the job\\)") as e:
        resolve_language("ko", VARIED)
    assert e.value.code == "unsupported_language"
    korean = Score(events=(Note(0, 1, 60, lyric="Baum"),), lang="ko")
    with pytest.raises(UnsupportedLanguage, match="xml:lang"):
        score_to_phrases(korean, language=None)
    assert score_to_phrases(korean, language="en")  # the job's choice wins
    german = Score(events=(Note(0, 1, 60, lyric="Baum"),), lang="de")
    assert score_to_phrases(german, language=None)[0].ph_seq[:3] == ("b", "aw", "m")  # sung in German now


def test_lyrics_with_nothing_singable() -> None:
    with pytest.raises(NoLyrics, match="nothing singable"):
        score_to_phrases(song([("C4", 1.0, "..."), ("D4", 1.0, "!")]), language="en")


def test_phonemes_are_in_the_voice_inventory() -> None:
    inventory = PhonemeDictionary.builtin().inventory
    for p in phrases():
        assert set(p.ph_seq) <= inventory
