"""Mandarin lyrics (hanzi or pinyin) -> one Syllable per sung note, through the voice's dictionary.

Hanzi are read by pypinyin over the whole song's text at once, so its phrase dictionary can pick the
reading of a polyphonic character from its neighbours. Pinyin lyrics are accepted with tone numbers
or tone marks; ü may be written ü, v or u:. Each syllable splits into phonemes through the voice's
own dictionary (opencpop style): the phonemes before the first vowel are the onset, the rest the
nucleus. Several syllables on one note are sung in that note (their vowels merge into it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from singer_tasks.errors import UnreadableLyric
from singer_tasks.phonemize.dictionary import PhonemeDictionary
from singer_tasks.phonemize.units import Syllable
from singer_tasks.score.model import Note

_HANZI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]|[a-zA-Z\u00c0-\u024f:]+")


def has_hanzi(text: str) -> bool:
    """Whether a text holds Chinese characters."""
    return _HANZI.search(text) is not None


def normalize_pinyin(token: str) -> str:
    """A pinyin syllable without tone (numbers or marks), lower case, with ü written v."""
    token = token.lower().replace("u:", "v").replace("ü", "v")
    token = "".join(c for c in unicodedata.normalize("NFD", token) if unicodedata.category(c) != "Mn")
    return re.sub(r"[^a-z]", "", token.replace("ü", "v"))


def mandarin_syllables(notes: Sequence[Note], dictionary: PhonemeDictionary) -> list[Syllable | None]:
    """One entry per note: the Syllable it starts, or None when it continues the previous one."""
    tokens = [_TOKEN.findall(n.lyric or "") if not n.melisma else [] for n in notes]
    readings = iter(_read_hanzi("".join(t for ts in tokens for t in ts if _HANZI.fullmatch(t))))
    out: list[Syllable | None] = []
    for note_tokens in tokens:
        syllables: list[str] = []
        for t in note_tokens:
            syllables += [next(readings)] if _HANZI.fullmatch(t) else _split_pinyin(t, dictionary)
        if not syllables:
            out.append(None)
            continue
        phonemes = [p for s in syllables for p in dictionary.lookup("zh", s)]
        first_vowel = next((i for i, p in enumerate(phonemes) if dictionary.is_vowel(p)), 0)
        out.append(Syllable(tuple(phonemes[:first_vowel]), tuple(phonemes[first_vowel:])))
    return out


def _split_pinyin(token: str, dictionary: PhonemeDictionary) -> list[str]:
    """Pinyin syllables of a token ("ni3hao3", "nǐhǎo" -> ni, hao): tone digits split it, then the
    fewest dictionary syllables that spell it; a token that cannot be spelled is kept whole, so the
    lookup names it in its error."""
    known = dictionary.table("zh").entries
    pieces: list[str] = []
    for part in re.split(r"[1-5]", token.lower()):
        word = normalize_pinyin(part)
        if not word:
            continue
        best: list[list[str] | None] = [[]] + [None] * len(word)  # best[i]: spelling of word[:i]
        for end in range(1, len(word) + 1):
            for start in range(max(0, end - 6), end):
                prefix = best[start]
                if prefix is not None and word[start:end] in known:
                    candidate = [*prefix, word[start:end]]
                    current = best[end]
                    if current is None or len(candidate) < len(current):
                        best[end] = candidate
        pieces += best[-1] if best[-1] is not None else [word]
    return pieces


def _read_hanzi(text: str) -> list[str]:
    if not text:
        return []
    from pypinyin import Style, lazy_pinyin  # loads its dictionaries on first use

    readings = lazy_pinyin(text, style=Style.NORMAL, v_to_u=False)
    # pypinyin returns one reading per character for CJK input; keep that invariant explicit
    if len(readings) != len(text):
        readings = [lazy_pinyin(c, style=Style.NORMAL, v_to_u=False)[0] for c in text]
    out = []
    for char, reading in zip(text, readings, strict=True):
        syllable = normalize_pinyin(reading)
        if not syllable:
            raise UnreadableLyric(f"no pinyin reading is known for '{char}'; write that lyric in pinyin instead")
        out.append(syllable)
    return out
