"""Phonemize stage: Score -> phrases (.ds segments) for one voice's dictionary.

`score_to_phrases` chooses the language (the job's, else the lyrics' xml:lang, else the script of the
lyrics), turns each note's lyric into phonemes of the voice (english, mandarin, japanese), times them
against the notes (timing), cuts the song into phrases at rests (phrases) and draws an f0 curve (pitch).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from singer_tasks.errors import NoLyrics, UnsupportedLanguage
from singer_tasks.phonemize.dictionary import PhonemeDictionary
from singer_tasks.phonemize.english import english_syllables
from singer_tasks.phonemize.japanese import has_kana, japanese_syllables, sung_language
from singer_tasks.phonemize.mandarin import has_hanzi, mandarin_syllables
from singer_tasks.phonemize.options import PhraseOptions
from singer_tasks.phonemize.phrases import split_phrases, to_phrase
from singer_tasks.phonemize.timing import build_words
from singer_tasks.phonemize.units import Syllable
from singer_tasks.phrase import Phrase
from singer_tasks.score.model import Note, Score

__all__ = ["PhonemeDictionary", "PhraseOptions", "resolve_language", "score_to_phrases"]

FrontEnd = Callable[[Sequence[Note], PhonemeDictionary], list[Syllable | None]]
LANGUAGES: dict[str, FrontEnd] = {"en": english_syllables, "zh": mandarin_syllables, "ja": japanese_syllables}
_ALIASES = {
    "eng": "en", "english": "en",
    "zho": "zh", "chi": "zh", "cmn": "zh", "chinese": "zh", "mandarin": "zh",
    "jpn": "ja", "jp": "ja", "japanese": "ja",
}  # fmt: skip


def resolve_language(language: str | None, score: Score) -> str:
    """The language to sing: the job's choice, else the score's xml:lang, else ja when the lyrics hold
    kana, zh when they hold hanzi (kanji without kana read as Chinese) and en otherwise. Raises
    UnsupportedLanguage naming the languages we sing."""
    if language:
        chosen, source = language, "the job"
    elif score.lang:
        chosen, source = score.lang, "the score's xml:lang"
    else:
        lyrics = [n.lyric or "" for n in score.notes]
        chosen = "ja" if any(map(has_kana, lyrics)) else "zh" if any(map(has_hanzi, lyrics)) else "en"
        source = "the lyrics"
    code = chosen.strip().lower().replace("_", "-").split("-")[0]
    code = _ALIASES.get(code, code)
    if code not in LANGUAGES:
        raise UnsupportedLanguage(
            f"language '{chosen}' (from {source}) cannot be sung; supported languages are "
            f"{', '.join(sorted(LANGUAGES))}: choose one of them for the job"
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
    # Japanese on a voice without a Japanese dictionary is sung with its English (ARPAbet) phonemes
    sung = sung_language(voice) if lang == "ja" else lang
    voice.table(sung)  # the voice must sing this language
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
