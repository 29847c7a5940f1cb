"""Lyrics in their own language (issue: real-world scores): detection by xml:lang, script and text;
German, Italian, Latin, French, Spanish and Hawaiian sung by the built-in voice with phonemes known by
construction; pinyin read as Mandarin; a note that carries a syllable is never silent."""

from __future__ import annotations

import sys
import warnings

import pytest

from singer_tasks.errors import UnsupportedLanguage
from singer_tasks.phonemize import PhonemeDictionary, resolve_language, score_to_phrases
from singer_tasks.phonemize.english import english_syllables
from singer_tasks.phonemize.european import european_syllables, phonemize_word
from singer_tasks.phonemize.language import detect_language, is_pinyin, line_text
from singer_tasks.score.model import Note, Score
from singer_tasks.score.read import _music21_warnings, parse_score
from tests.singer_tasks.fixtures.scores.realworld import sentence_song

# One line per language, split into sung syllables as a score splits them.
SONGS: dict[str, list[list[str]]] = {
    "de": [["Am"], ["Brun", "nen"], ["vor"], ["dem"], ["To", "re"], ["da"], ["steht"], ["ein"], ["Lin", "den", "baum"],
           ["ich"], ["träumt"], ["in"], ["sei", "nem"], ["Schat", "ten"], ["so"], ["man", "chen"], ["sü", "ßen"],
           ["Traum"], ["mei", "ne"], ["Lie", "be"]],
    "it": [["La"], ["don", "na"], ["è"], ["mo", "bi", "le"], ["qual"], ["piu", "ma"], ["al"], ["ven", "to"],
           ["mu", "ta"], ["d'ac", "cen", "to"], ["e"], ["di"], ["pen", "sie", "ro"]],
    "la": [["Glo", "ri", "a"], ["in"], ["ex", "cel", "sis"], ["De", "o"], ["et"], ["in"], ["ter", "ra"], ["pax"],
           ["ho", "mi", "ni", "bus"], ["bo", "nae"], ["vo", "lun", "ta", "tis"]],
    "fr": [["Au"], ["clair"], ["de"], ["la"], ["lu", "ne"], ["mon"], ["a", "mi"], ["Pier", "rot"], ["prê", "te"],
           ["moi"], ["ta"], ["plu", "me"], ["pour"], ["é", "cri", "re"], ["un"], ["mot"]],
    "es": [["De"], ["co", "lo", "res"], ["se"], ["vis", "ten"], ["los"], ["cam", "pos"], ["en"], ["la"],
           ["pri", "ma", "ve", "ra"], ["de", "co", "lo", "res"], ["son"], ["los"], ["pa", "ja", "ri", "llos"]],
    "haw": [["A", "lo", "ha"], ["\u02bbo", "e"], ["a", "lo", "ha"], ["\u02bbo", "e"], ["e"], ["ke"],
            ["o", "na", "o", "na"], ["no", "ho"], ["i"], ["ka"], ["li", "po"]],
    "en": [["Twin", "kle"], ["twin", "kle"], ["lit", "tle"], ["star"], ["how"], ["I"], ["won", "der"], ["what"],
           ["you"], ["are"]],
}  # fmt: skip


def syllable_count(lang: str) -> int:
    return sum(len(w) for w in SONGS[lang])


@pytest.mark.parametrize("lang", sorted(SONGS))
def test_each_language_is_detected_from_the_text_and_every_syllable_is_sung(lang: str) -> None:
    score = parse_score(sentence_song(SONGS[lang]), f"{lang}.musicxml")
    assert score.lang is None  # no xml:lang: detected from the text
    assert resolve_language(None, score) == lang
    phrases = score_to_phrases(score, language=None)
    voice = PhonemeDictionary.builtin()
    sung = [phs for p in phrases for phs in _word_phonemes(p.ph_seq, p.ph_num) if phs and phs[0] not in ("SP", "AP")]
    assert len(sung) == syllable_count(lang)  # one ph_num word per sung syllable: none silent
    assert all(any(voice.is_vowel(x) for x in phs) for phs in sung)


def _word_phonemes(ph_seq: tuple[str, ...], ph_num: tuple[int, ...]) -> list[tuple[str, ...]]:
    out, k = [], 0
    for count in ph_num:
        out.append(ph_seq[k : k + count])
        k += count
    return out


@pytest.mark.parametrize(
    ("lang", "syllables", "expected"),
    [
        ("de", ("mei", "ne"), (("m", "ay"), ("n", "ah"))),
        ("de", ("Va", "ter"), (("f", "aa"), ("t", "ah"))),
        ("de", ("ich",), (("ih", "sh"),)),
        ("de", ("Schat", "ten"), (("sh", "aa", "t"), ("t", "ah", "n"))),
        ("de", ("sü", "ßen"), (("z", "uw"), ("s", "ah", "n"))),
        ("it", ("piu", "ma"), (("p", "y", "uw"), ("m", "aa"))),
        ("it", ("cia", "o"), (("ch", "aa"), ("ao",))),
        ("it", ("o", "gni"), (("ao",), ("n", "y", "iy"))),
        ("it", ("pe", "sce"), (("p", "eh"), ("sh", "eh"))),
        ("la", ("ex", "cel", "sis"), (("eh", "k"), ("sh", "eh", "l"), ("s", "iy", "s"))),
        ("la", ("coe", "li"), (("ch", "eh"), ("l", "iy"))),
        ("la", ("gra", "ti", "a"), (("g", "r", "aa"), ("t", "s", "iy"), ("aa",))),
        ("la", ("mi", "hi"), (("m", "iy"), ("k", "iy"))),
        ("fr", ("lu", "ne"), (("l", "uw"), ("n", "ah"))),
        ("fr", ("lune",), (("l", "uw", "n"),)),  # on one note the mute e is silent
        ("fr", ("chan", "son"), (("sh", "aa", "ng"), ("s", "ao", "ng"))),
        ("fr", ("moi",), (("m", "w", "aa"),)),
        ("fr", ("les",), (("l", "ey"),)),
        ("fr", ("par", "ler"), (("p", "aa", "r"), ("l", "ey"))),
        ("es", ("ca", "lle"), (("k", "aa"), ("y", "eh"))),
        ("es", ("ni", "ño"), (("n", "iy"), ("n", "y", "ao"))),
        ("es", ("gen", "te"), (("hh", "eh", "n"), ("t", "eh"))),
        ("haw", ("\u02bbo", "e"), (("ao",), ("eh",))),
    ],
)
def test_phonemes_per_syllable(lang: str, syllables: tuple[str, ...], expected: tuple[tuple[str, ...], ...]) -> None:
    assert phonemize_word(lang, syllables) == expected


def test_mei_ne_keeps_its_second_syllable_in_english_too() -> None:
    notes = [Note(0, 1, 60, "mei", "begin"), Note(1, 1, 62, "ne", "end")]
    voice = PhonemeDictionary.builtin()
    english = english_syllables(notes, voice)
    german = european_syllables(notes, voice, "de")
    assert all(s is not None and s.nucleus for s in english)
    assert [(s.onset, s.nucleus) for s in german if s] == [(("m",), ("ay",)), (("n",), ("ah",))]


def test_xml_lang_de_is_sung_and_an_unsung_language_is_refused_by_name() -> None:
    german = parse_score(sentence_song(SONGS["de"], lang="de"), "de.musicxml")
    assert german.lang == "de" and resolve_language(None, german) == "de"
    assert score_to_phrases(german, language=None)
    korean = Score(events=(Note(0, 1, 60, lyric="x"),), lang="ko")
    with pytest.raises(UnsupportedLanguage, match="'ko' \\(from the score's xml:lang\\) is Korean"):
        resolve_language(None, korean)
    words = ["Я", "помню", "чудное", "мгновенье", "передо", "мной", "явилась", "ты", "как", "мимолётное", "виденье"]
    russian = Score(events=tuple(Note(i, 1, 60, lyric=w) for i, w in enumerate(words)))
    with pytest.raises(UnsupportedLanguage, match="Russian"):
        score_to_phrases(russian, language=None)


def test_job_language_wins_and_aliases() -> None:
    score = parse_score(sentence_song(SONGS["it"]), "it.musicxml")
    assert resolve_language("German", score) == "de"
    assert resolve_language("fra", score) == "fr"
    assert resolve_language("la", score) == "la"


def test_tone_numbered_pinyin_is_mandarin() -> None:
    words = [["zhu4"], ["ni3"], ["sheng1"], ["ri4"], ["kuai4"], ["le4"]]
    score = parse_score(sentence_song(words), "zh.musicxml")
    assert resolve_language(None, score) == "zh"
    phrases = score_to_phrases(score, language=None)
    assert phrases[0].ph_seq[:4] == ("zh", "u", "n", "i")
    assert is_pinyin(["zhù", "nǐ", "shēng", "rì"])
    assert not is_pinyin(["a", "lo", "ha"])  # spells pinyin but carries no tones: not enough
    assert detect_language("zhu ni sheng ri kuai le").code == "en"  # toneless and short: unsure, English


def test_scripts_and_short_texts() -> None:
    assert detect_language("さくら さくら").code == "ja"
    assert detect_language("我 爱 你").code == "zh"
    assert detect_language("sky").code == "en"
    notes = [Note(0, 1, 60, "Lin", "begin"), Note(1, 1, 60, "den", "middle"), Note(2, 1, 60, "baum", "end"),
             Note(3, 1, 60, None, melisma=True), Note(4, 1, 60, "ich")]  # fmt: skip
    assert line_text(notes) == "Lindenbaum ich"


def test_short_liturgical_latin_is_latin_and_words_english_shares_stay_unsure() -> None:
    # a Kyrie or a Benedicamus is too short and too repetitive for the detector, but Latin beyond doubt
    for text in ("Kyrie eleison. Christe eleison. Kyrie eleison.", "Benedicamus Domino.", "1.3. Ky rie eleison."):
        assert (detect_language(text).code, detect_language(text).how) == ("la", "Latin liturgical words")
    assert detect_language("Kyrieleison. Christeleison.").code == "la"
    for shared in ("Amen. Amen.", "Alleluia, alleluia", "Gloria", "Maria, Maria"):  # sung in English songs too
        assert detect_language(shared).code == "en"
    assert detect_language("Kyrie, my dear, come home").code != "la"  # one English word is enough


def test_music21_warnings_become_words() -> None:
    out: list[str] = []
    with _music21_warnings(out):
        warnings.warn("/usr/lib/python3/site-packages/music21/musicxml/xmlToM21.py:1234: odd beam found", stacklevel=1)
        print("MusicXMLWarning: a measure is too long", file=sys.stderr)
    assert out == ["the score reader noted: odd beam found", "the score reader noted: a measure is too long"]


@pytest.mark.slow
def test_music21_corpus_lyrics_are_detected_in_their_language() -> None:
    # the corpus sample's language labels; Aloha Oe's first verse is Hawaiian (the sample lists the file
    # as Hawaiian/English, and verse 1 is the Hawaiian one)
    from tests.singer_tasks.test_parse_corpus import SAMPLE, corpus_dir

    wrong = []
    for name, lang in SAMPLE:
        path = corpus_dir() / name
        if not path.exists():
            continue
        expected = "haw" if name.startswith("liliuokalani/") else lang
        got = resolve_language(None, parse_score(path.read_bytes(), path.name))
        if got != expected:
            wrong.append((name, expected, got))
    assert not wrong
