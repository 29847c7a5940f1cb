"""Mandarin front end and the phonemes/ dictionaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from singer_tasks.errors import DictionaryError, PhonemeError, UnreadableLyric, UnsupportedLanguage
from singer_tasks.phonemize import score_to_phrases
from singer_tasks.phonemize.dictionary import PhonemeDictionary
from singer_tasks.phonemize.mandarin import mandarin_syllables, normalize_pinyin
from singer_tasks.phonemize.pinyin_table import dictionary_text
from singer_tasks.score.model import Note
from tests.singer_tasks.fixtures.scores.songs import song

REPO = Path(__file__).resolve().parents[2]
ZH = REPO / "phonemes" / "opencpop-zh.txt"


def _notes(*lyrics: str) -> list[Note]:
    return [Note(float(i), 1.0, 60.0, lyric=ly) for i, ly in enumerate(lyrics)]


def test_committed_dictionary_matches_the_rules() -> None:
    assert ZH.read_text(encoding="utf-8") == dictionary_text()


def test_dictionary_covers_every_reading_pypinyin_knows() -> None:
    from pypinyin import Style
    from pypinyin.pinyin_dict import pinyin_dict
    from pypinyin.style import convert

    known = PhonemeDictionary.load(ZH, "zh").tables["zh"].entries
    readings = {convert(r, Style.NORMAL, strict=True) for value in pinyin_dict.values() for r in value.split(",")}
    missing = sorted(r for r in {normalize_pinyin(x) for x in readings} if r and r not in known)
    assert not missing, missing[:20]


@pytest.mark.parametrize(
    ("syllable", "phonemes"),
    [
        ("zhi", ("zh", "ir")),
        ("si", ("s", "i0")),
        ("ju", ("j", "v")),
        ("lv", ("l", "v")),
        ("xue", ("x", "ve")),
        ("yuan", ("y", "van")),
        ("jiong", ("j", "iong")),
        ("a", ("a",)),
        ("er", ("er",)),
        ("wo", ("w", "o")),
        ("guang", ("g", "uang")),
    ],
)
def test_known_splits(syllable: str, phonemes: tuple[str, ...]) -> None:
    assert PhonemeDictionary.builtin().lookup("zh", syllable) == phonemes


def test_hanzi_are_read_in_context() -> None:
    d = PhonemeDictionary.builtin()
    # 行 reads hang in 银行 (bank) and xing in 行走 (walk); 长 zhang in 长大, chang in 长城
    syllables = mandarin_syllables(_notes("银", "行", "行", "走", "长", "大", "长", "城"), d)
    finals = [(s.onset, s.nucleus) for s in syllables if s]
    assert finals[1] == (("h",), ("ang",))
    assert finals[2] == (("x",), ("ing",))
    assert finals[4] == (("zh",), ("ang",))
    assert finals[6] == (("ch",), ("ang",))


def test_pinyin_lyrics_with_tones_and_umlauts() -> None:
    d = PhonemeDictionary.builtin()
    syllables = mandarin_syllables(_notes("lü4", "nu:3", "zhōng", "Ni3", "ni3hao3", "xi1an1"), d)
    assert [s.onset + s.nucleus for s in syllables if s] == [
        ("l", "v"),
        ("n", "v"),
        ("zh", "ong"),
        ("n", "i"),
        ("n", "i", "h", "ao"),  # two syllables on one note: the second vowel merges into it
        ("x", "i", "an"),
    ]


def test_punctuation_only_lyric_continues_the_syllable() -> None:
    fullwidth_comma = "\uff0c"
    syllables = mandarin_syllables(_notes("你", fullwidth_comma), PhonemeDictionary.builtin())
    assert syllables[0] is not None and syllables[1] is None


def test_unknown_pinyin_is_a_clear_error() -> None:
    with pytest.raises(PhonemeError, match="'qwx'"):
        mandarin_syllables(_notes("qwx"), PhonemeDictionary.builtin())


def test_multilingual_voice_prefixes_phonemes_and_tags_lang() -> None:
    voice = PhonemeDictionary.builtin(prefixed=True)
    phrases = score_to_phrases(song([("rest", 0.5), ("C4", 1.0, "我"), ("rest", 0.5)]), language="zh", dictionary=voice)
    (phrase,) = phrases
    assert phrase.ph_seq == ("SP", "zh/w", "zh/o", "SP")
    assert phrase.lang == "zh"
    assert phrase.to_ds_segment()["lang"] == "zh"


def test_single_language_voice_segments_carry_no_lang() -> None:
    (phrase,) = score_to_phrases(song([("rest", 0.5), ("C4", 1.0, "我"), ("rest", 0.5)]), language="zh")
    assert phrase.ph_seq == ("SP", "w", "o", "SP")
    assert phrase.lang is None and "lang" not in phrase.to_ds_segment()


def test_voice_without_the_language() -> None:
    en_only = PhonemeDictionary.load(REPO / "phonemes" / "arpabet-en.txt", "en")
    with pytest.raises(UnsupportedLanguage, match="sings en"):
        score_to_phrases(song([("C4", 1.0, "我")]), language="zh", dictionary=en_only)


def test_dictionary_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DictionaryError, match="cannot read"):
        PhonemeDictionary.load(tmp_path / "missing.txt", "zh")
    bad = tmp_path / "bad.txt"
    bad.write_text("ba b a\n")  # spaces, no TAB
    with pytest.raises(DictionaryError, match=r"bad\.txt:1"):
        PhonemeDictionary.load(bad, "zh")


def test_builtin_inventory_and_vowels() -> None:
    d = PhonemeDictionary.builtin()
    assert {"SP", "AP", "a", "zh", "ir", "i0", "aa", "hh", "ng"} <= d.inventory
    assert d.is_vowel("ang") and d.is_vowel("iy") and not d.is_vowel("zh") and not d.is_vowel("t")
    assert d.languages == ("en", "zh")


def test_hanzi_without_a_reading_is_named() -> None:
    rare = "\U0002a6d6"  # an Extension B character pypinyin has no reading for
    from pypinyin import Style, lazy_pinyin

    if normalize_pinyin(lazy_pinyin(rare, style=Style.NORMAL)[0]):
        pytest.skip("this pypinyin knows the character")
    with pytest.raises(UnreadableLyric, match=rare):
        mandarin_syllables(_notes(rare), PhonemeDictionary.builtin())
