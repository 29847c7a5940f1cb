"""Japanese front end: kana and romaji morae, kanji readings (Sudachi), voice dictionaries, whole scores."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from singer_tasks.errors import PhonemeError, UnreadableLyric, UnsupportedLanguage
from singer_tasks.phonemize import resolve_language, score_to_phrases
from singer_tasks.phonemize.dictionary import ARPABET_VOWELS, PhonemeDictionary
from singer_tasks.phonemize.japanese import (
    CL,
    DEFAULT_ARPABET,
    LONG,
    MORA_KEYS,
    N,
    _tokenizer,
    has_kana,
    japanese_syllables,
    japanese_table,
    load_dsdict,
    lyrics_morae,
    read_kanji,
    split_morae,
)
from singer_tasks.score.model import Note
from singer_tasks.score.read import parse_score
from singer_tasks.voices.builtin.phonemes import sounds_for
from tests.singer_tasks.fixtures.scores.songs import song

REPO = Path(__file__).resolve().parents[2]
SCORES = Path(__file__).parent / "fixtures" / "scores"

# A DiffSinger-style Japanese dictionary (dsdict entries grapheme -> phonemes), cut to what tests sing.
DSDICT = {
    "a": "a", "i": "i", "u": "u", "e": "e", "o": "o", "n": "N", "cl": "cl",
    "ka": "k a", "ki": "k i", "ku": "k u", "ko": "k o", "kya": "ky a", "sa": "s a", "shi": "sh i", "su": "s u",
    "ta": "t a", "chi": "ch i", "tsu": "ts u", "te": "t e", "to": "t o", "na": "n a", "ni": "n i", "no": "n o",
    "ha": "h a", "fu": "f u", "ma": "m a", "me": "m e", "ya": "y a", "yu": "y u", "ra": "r a", "ru": "r u",
    "sha": "sh a", "ji": "j i", "so": "s o",
}  # fmt: skip


def _notes(*lyrics: str | None) -> list[Note]:
    return [Note(float(i), 1.0, 60.0, lyric=ly, melisma=ly is None) for i, ly in enumerate(lyrics)]


def _voice() -> PhonemeDictionary:
    return PhonemeDictionary([japanese_table(DSDICT)])


@pytest.mark.parametrize(
    ("lyric", "morae"),
    [
        ("さくら", ["sa", "ku", "ra"]),
        ("サクラ", ["sa", "ku", "ra"]),
        ("ｻｸﾗ", ["sa", "ku", "ra"]),  # half-width katakana
        ("しちつふじぢづ", ["shi", "chi", "tsu", "fu", "ji", "ji", "zu"]),
        ("きゃ しゅ ちょ にゃ りゅ ぴょ じゃ", ["kya", "shu", "cho", "nya", "ryu", "pyo", "ja"]),
        ("キャンディー", ["kya", N, "di", LONG]),
        ("がっこう", ["ga", CL, "ko", "u"]),
        ("らーめん", ["ra", LONG, "me", N]),
        ("ふぁ てぃ とぅ うぃ ヴァ つぁ いぇ", ["fa", "ti", "tu", "wi", "va", "tsa", "ye"]),
        ("を ゐ ゑ", ["o", "i", "e"]),
        ("ぁ", ["a"]),  # a small kana alone sings its vowel
        ("いすゞ", ["i", "su", "zu"]),  # iteration mark, voiced
        ("、「は」。", ["ha"]),  # punctuation skipped
    ],
)
def test_kana_morae(lyric: str, morae: list[str]) -> None:
    assert split_morae(lyric) == morae


@pytest.mark.parametrize(
    ("lyric", "morae"),
    [
        ("sakura", ["sa", "ku", "ra"]),
        ("shi si", ["shi", "shi"]),  # Hepburn and Kunrei
        ("tsu tu", ["tsu", "tsu"]),
        ("chi ti", ["chi", "chi"]),
        ("fu hu", ["fu", "fu"]),
        ("ji zi", ["ji", "ji"]),
        ("sha sya", ["sha", "sha"]),
        ("ja zya jya", ["ja", "ja", "ja"]),
        ("cho tyo", ["cho", "cho"]),
        ("kon'ya", ["ko", N, "ya"]),  # n' keeps ん apart from ya
        ("konya", ["ko", "nya"]),
        ("konnichiwa", ["ko", N, "ni", "chi", "wa"]),
        ("hon", ["ho", N]),
        ("shimbun shinbun", ["shi", N, "bu", N, "shi", N, "bu", N]),
        ("kitte", ["ki", CL, "te"]),
        ("matcha", ["ma", CL, "cha"]),
        ("zasshi", ["za", CL, "shi"]),
        ("Tōkyō", ["to", "o", "kyo", "o"]),  # macrons are long vowels
        ("la la", ["ra", "ra"]),
    ],
)
def test_romaji_morae(lyric: str, morae: list[str]) -> None:
    assert split_morae(lyric) == morae


def test_latin_text_that_is_not_romaji_is_named() -> None:
    with pytest.raises(UnreadableLyric, match="'qwerty'"):
        split_morae("qwerty")


@pytest.mark.parametrize(
    ("text", "reading"),
    [
        ("桜", "さくら"),
        ("空", "そら"),
        ("歌", "うた"),
        ("夢", "ゆめ"),
        ("心", "こころ"),
        ("花火", "はなび"),
        ("君の名", "きみのな"),
    ],
)
def test_kanji_readings(text: str, reading: str) -> None:
    assert read_kanji(text) == reading


def test_kanji_are_read_in_context_across_notes() -> None:
    # a verb split kanji | okurigana, a word split over two notes, and kana kept as written
    lyrics = ["咲", "く", "一", "緒", "に", "今日", "は", None]
    assert lyrics_morae(lyrics) == [["sa"], ["ku"], ["i", CL], ["sho"], ["ni"], ["kyo", "u"], ["ha"], []]


def test_mixed_kanji_kana_and_romaji_on_one_note() -> None:
    assert lyrics_morae(["夢をyume"]) == [["yu", "me", "o", "yu", "me"]]


def test_syllables_through_a_dsdict_style_dictionary() -> None:
    syllables = japanese_syllables(_notes("か", "きゃ", "ん", "つ", "し", "かん", "さっ", "た"), _voice())
    assert [(s.onset, s.nucleus, s.coda) for s in syllables if s] == [
        (("k",), ("a",), ()),
        (("ky",), ("a",), ()),
        ((), ("N",), ()),  # ん alone is the nucleus: the note is sung
        (("ts",), ("u",), ()),
        (("sh",), ("i",), ()),
        (("k",), ("a",), ("N",)),  # a trailing ん is the coda
        (("s",), ("a",), ("cl",)),  # so is a trailing っ
        (("t",), ("a",), ()),
    ]


def test_several_kana_on_one_note_sing_in_order() -> None:
    (s,) = japanese_syllables(_notes("さくら"), _voice())
    assert s is not None and s.onset == ("s",) and s.nucleus == ("a", "k", "u", "r", "a")
    (s,) = japanese_syllables(_notes("っと"), _voice())  # a leading っ is sung before the onset
    assert s is not None and s.onset == ("cl", "t") and s.nucleus == ("o",)


def test_long_vowel_mark_and_slurs() -> None:
    syllables = japanese_syllables(_notes("か", "ー", None, "らー"), _voice())
    assert syllables[1] is None and syllables[2] is None  # ー alone and a slurred note continue the vowel
    last = syllables[3]
    assert last is not None and last.nucleus == ("a", "a")


def test_dictionary_fallbacks_and_missing_syllables() -> None:
    (s,) = japanese_syllables(_notes("てぃ"), _voice())  # no "ti" entry: the nearest core syllable
    assert s is not None and s.phonemes == ("ch", "i")
    with pytest.raises(PhonemeError, match="'pe'"):
        japanese_syllables(_notes("ぺ"), _voice())


def test_default_arpabet_covers_every_mora_with_known_phonemes() -> None:
    assert set(DEFAULT_ARPABET) == MORA_KEYS | {N}
    builtin = PhonemeDictionary.builtin()
    for key, phonemes in DEFAULT_ARPABET.items():
        builtin.check(phonemes)
        sounds_for(phonemes, "en")
        assert key == N or phonemes[-1] in ARPABET_VOWELS


def test_builtin_voice_sings_japanese_through_arpabet() -> None:
    voice = PhonemeDictionary.builtin()
    syllables = japanese_syllables(_notes("さ", "かん", "ぱ", "がっ", "こ", "ちゅ"), voice)
    assert [s.phonemes for s in syllables if s] == [
        ("s", "aa"),
        ("k", "aa", "m"),  # ん takes the place of the next consonant: m before p
        ("p", "aa"),
        ("g", "aa", "k"),  # っ doubles the next consonant
        ("k", "ao"),
        ("ch", "uw"),
    ]
    (s,) = japanese_syllables(_notes("さんか"), voice)
    assert s is not None and s.phonemes == ("s", "aa", "ng", "k", "aa")  # and ng before k


def test_language_guess_and_aliases() -> None:
    assert resolve_language(None, song([("C4", 1.0, "さくら")])) == "ja"
    assert resolve_language(None, song([("C4", 1.0, "桜"), ("D4", 1.0, "の")])) == "ja"
    assert resolve_language(None, song([("C4", 1.0, "我")])) == "zh"  # kanji without kana read as Chinese
    assert resolve_language("jpn", song([("C4", 1.0, "sa")])) == "ja"
    assert resolve_language(None, song([("C4", 1.0, "sa")], lang="ja-JP")) == "ja"
    assert has_kana("ー") and not has_kana("我")


def test_voice_dictionaries_for_japanese(tmp_path: Path) -> None:
    score = song([("rest", 0.5), ("C4", 1.0, "さ"), ("D4", 1.0, "くら"), ("rest", 0.5)])
    (phrase,) = score_to_phrases(score, language="ja", dictionary=_voice())
    assert phrase.ph_seq == ("SP", "s", "a", "k", "u", "r", "a", "SP") and phrase.lang is None
    multi = PhonemeDictionary([japanese_table(DSDICT), *PhonemeDictionary.builtin().tables.values()], prefixed=True)
    (phrase,) = score_to_phrases(score, language="ja", dictionary=multi)
    assert phrase.ph_seq[1:3] == ("ja/s", "ja/a") and phrase.lang == "ja"
    (phrase,) = score_to_phrases(score, language="ja", dictionary=PhonemeDictionary.builtin(prefixed=True))
    assert phrase.ph_seq[1:3] == ("en/s", "en/aa") and phrase.lang == "en"  # no ja table: sung in ARPAbet
    dictionary_txt = tmp_path / "japanese.txt"
    dictionary_txt.write_text("".join(f"{k}\t{v}\n" for k, v in DSDICT.items()), encoding="utf-8")
    (phrase,) = score_to_phrases(score, language="ja", dictionary=dictionary_txt)
    assert phrase.ph_seq[1:3] == ("s", "a")
    zh_only = PhonemeDictionary.load(REPO / "phonemes" / "opencpop-zh.txt", "zh")
    with pytest.raises(UnsupportedLanguage, match="'ja'"):
        score_to_phrases(score, language="ja", dictionary=zh_only)


def test_load_dsdict(tmp_path: Path) -> None:
    path = tmp_path / "dsdict.yaml"
    path.write_text(
        textwrap.dedent(
            """
            symbols:
              - {symbol: a, type: vowel}
              - {symbol: N, type: vowel}
              - {symbol: k, type: stop}
            entries:
              - {grapheme: ka, phonemes: [k, a]}
              - {grapheme: a, phonemes: [a]}
              - {grapheme: n, phonemes: [N]}
            """
        ),
        encoding="utf-8",
    )
    voice = PhonemeDictionary([load_dsdict(path)])
    assert voice.is_vowel("a") and voice.is_vowel("N") and not voice.is_vowel("k")
    assert [s.phonemes for s in japanese_syllables(_notes("かん"), voice) if s] == [("k", "a", "N")]


@pytest.mark.parametrize("name", ["sakura_hiragana_ja.musicxml", "sora_kanji_ja.musicxml"])
def test_fixture_scores_sing_with_the_builtin_voice(name: str) -> None:
    path = SCORES / name
    score = parse_score(path.read_bytes(), path.name)
    assert resolve_language(None, score) == "ja"
    voice = PhonemeDictionary.builtin()
    phrases = score_to_phrases(score, language=None)
    assert phrases
    for phrase in phrases:
        voice.check(phrase.ph_seq)
        sounds_for(phrase.ph_seq, "en")  # the built-in voice knows every phoneme
    syllables = japanese_syllables(score.notes, voice)
    for note, syllable in zip(score.notes, syllables, strict=True):
        if note.lyric is not None and note.lyric != "ー":
            assert syllable is not None, note
            assert voice.is_vowel(syllable.nucleus[0]) or syllable.nucleus == ("n",), (note, syllable)
    sung = [syllable for syllable in syllables if syllable]
    assert sum(len(p.ph_num) for p in phrases) >= len(sung)


def test_fixture_kanji_readings() -> None:
    path = SCORES / "sora_kanji_ja.musicxml"
    score = parse_score(path.read_bytes(), path.name)
    morae = lyrics_morae([n.lyric for n in score.notes])
    assert morae[:7] == [["ha", "ru"], ["no"], ["so", "ra"], ["ni"], ["sa", "ku", "ra"], ["sa"], ["ku"]]
    assert morae[7:11] == [["yu", "me"], ["o"], ["u", "ta"], ["u"]]


def test_hiragana_fixture_has_a_melisma() -> None:
    path = SCORES / "sakura_hiragana_ja.musicxml"
    score = parse_score(path.read_bytes(), path.name)
    assert any(n.melisma for n in score.notes)
    phrases = score_to_phrases(score, language="ja")
    assert any(1 in p.note_slur for p in phrases)


def test_missing_reading_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _tokenizer.cache_clear()
    monkeypatch.setitem(sys.modules, "sudachipy", None)  # import fails as if not installed
    try:
        with pytest.raises(UnreadableLyric, match="sudachipy"):
            read_kanji("空")
        assert lyrics_morae(["そら"]) == [["so", "ra"]]  # kana need no dictionary
    finally:
        _tokenizer.cache_clear()


def test_kana_lyrics_do_not_load_the_reading_dictionary() -> None:
    code = textwrap.dedent(
        """
        import sys
        from singer_tasks.phonemize import score_to_phrases
        from tests.singer_tasks.fixtures.scores.songs import song
        score_to_phrases(song([("C4", 1.0, "さくら"), ("D4", 1.0, "sora")]), language=None)
        assert "sudachipy" not in sys.modules
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)
