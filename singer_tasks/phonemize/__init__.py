"""Phonemize stage: Score -> phrases (.ds segments) for one voice's dictionary.

`score_to_phrases` chooses the language (the job's, else the sung line's xml:lang, else the script and
text of the lyrics: see `language`), turns each note's lyric into phonemes of the voice (english,
mandarin, japanese, european for German, Italian, Latin, French, Spanish and Hawaiian), times them
against the notes (timing), cuts the song into phrases at rests (phrases) and draws an f0 curve (pitch).
Japanese on a voice without a Japanese table, and the European languages, are sung with the voice's
English (ARPAbet) phonemes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from singer_tasks.errors import NoLyrics, UnsupportedLanguage
from singer_tasks.phonemize.dictionary import PhonemeDictionary
from singer_tasks.phonemize.english import english_syllables
from singer_tasks.phonemize.european import EUROPEAN, european_syllables
from singer_tasks.phonemize.japanese import japanese_syllables, sung_language
from singer_tasks.phonemize.language import detect_language, language_name, line_text
from singer_tasks.phonemize.mandarin import mandarin_syllables
from singer_tasks.phonemize.options import PhraseOptions
from singer_tasks.phonemize.phrases import split_phrases, to_phrase
from singer_tasks.phonemize.timing import build_words
from singer_tasks.phonemize.units import Syllable
from singer_tasks.phrase import Phrase
from singer_tasks.score.model import Note, Score

__all__ = ["PhonemeDictionary", "PhraseOptions", "resolve_language", "score_to_phrases"]

FrontEnd = Callable[[Sequence[Note], PhonemeDictionary], list[Syllable | None]]
LANGUAGES: dict[str, FrontEnd] = {
    "en": english_syllables,
    "zh": mandarin_syllables,
    "ja": japanese_syllables,
    **{lang: partial(european_syllables, lang=lang) for lang in EUROPEAN},
}
_ALIASES = {
    "eng": "en", "english": "en",
    "zho": "zh", "chi": "zh", "cmn": "zh", "chinese": "zh", "mandarin": "zh",
    "jpn": "ja", "jp": "ja", "japanese": "ja",
    "deu": "de", "ger": "de", "german": "de", "deutsch": "de",
    "ita": "it", "italian": "it", "italiano": "it",
    "lat": "la", "latin": "la", "latina": "la",
    "fra": "fr", "fre": "fr", "french": "fr", "francais": "fr", "français": "fr",
    "spa": "es", "spanish": "es", "espanol": "es", "español": "es", "castellano": "es",
    "hawaiian": "haw",
}  # fmt: skip


def _code(chosen: str) -> str:
    code = chosen.strip().lower().replace("_", "-").split("-")[0]
    return _ALIASES.get(code, code)


def _supported() -> str:
    return ", ".join(f"{language_name(c)} ({c})" for c in sorted(LANGUAGES))


def resolve_language(language: str | None, score: Score) -> str:
    """The language to sing: the job's choice, else the sung line's xml:lang, else what the lyrics show
    (kana: ja; hanzi: zh, kanji without kana read as Chinese; tone-numbered pinyin: zh; otherwise the
    offline detector on the line's whole text, English when it is too short or unsure). Raises
    UnsupportedLanguage naming the language found and the languages we sing."""
    if language:
        chosen, source = language, "the job"
    elif score.lang:
        chosen, source = score.lang, "the score's xml:lang"
    else:
        found = detect_language(line_text(score.notes))
        chosen, source = found.code, f"detection: {found.how}"
    code = _code(chosen)
    if code not in LANGUAGES:
        name = language_name(code)
        named = f" is {name}, which" if name != code else ""
        raise UnsupportedLanguage(
            f"language '{chosen}' (from {source}){named} cannot be sung; supported languages are "
            f"{_supported()}: choose one of them for the job"
        )
    return code


def score_to_phrases(
    score: Score,
    *,
    language: str | None,
    dictionary: PhonemeDictionary | str | Path | None = None,
    options: PhraseOptions | None = None,
) -> list[Phrase]:
    """The song as phrases ready for the acoustic model.

    dictionary: the voice's PhonemeDictionary, or a path to a single-language dictionary file, or
    None for the built-in voice's dictionaries (phonemes/). Raises UnsupportedLanguage, PhonemeError
    or NoLyrics, each naming the problem.
    """
    options = options if options is not None else PhraseOptions()
    lang = resolve_language(language, score)
    if dictionary is None:
        voice = PhonemeDictionary.builtin()
    elif isinstance(dictionary, PhonemeDictionary):
        voice = dictionary
    else:
        voice = PhonemeDictionary.load(dictionary, lang)
    # Japanese on a voice without a Japanese dictionary, and the European languages, are sung with its
    # English (ARPAbet) phonemes
    sung = sung_language(voice) if lang == "ja" else "en" if lang in EUROPEAN else lang
    if sung not in voice.tables:
        through = " (sung with English phonemes)" if sung != lang else ""
        raise UnsupportedLanguage(
            f"this voice does not sing language '{lang}' ({language_name(lang)}{through}); it sings "
            f"{', '.join(voice.languages)}: choose another voice or language"
        )
    syllables = LANGUAGES[lang](score.notes, voice)
    if not any(s is not None for s in syllables):
        raise NoLyrics(f"the lyrics hold nothing singable in language '{lang}'; check the lyrics or the language")
    words = build_words(score, syllables, options, voice.is_vowel)
    # openvpi's acoustic inference refuses a segment `lang` its voice has no language map for, so only
    # a multilingual (prefixed) voice gets one
    segment_lang = sung if voice.prefixed else None
    phrases = [to_phrase(group, segment_lang, options) for group in split_phrases(words, options)]
    for phrase in phrases:
        voice.check(phrase.ph_seq)
    return phrases
