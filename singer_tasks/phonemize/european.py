"""German, Italian, Latin, French, Spanish and Hawaiian lyrics -> one Syllable per sung note, in ARPAbet.

Why rules of our own and not a phonemizer package: these languages spell regularly enough that a page
of ordered spelling rules per language reads singing lyrics well, and a score already splits each word
into its sung syllables, which is what the rules most need (a French mute e is sung where it has its
own note, an Italian "mi-o" sings two vowels where "mio" glides). The packages on PyPI either need
the espeak-ng C library (phonemizer, espeakng: GPL, a system package), or bring large dictionaries and
a dependency tree for what is a small task here (gruut and its per-language packages; it has no
Latin), or need external tools for some languages (epitran). Rules also give the answer a test can
know by construction.

How: each word is written `#syl|la|ble#` (# word ends, | the score's syllable breaks) and read left to
right by the language's ordered rules (a regex tried at the current position, first match wins, each
emitting ARPAbet phonemes tagged with the syllable they came from). Each note then gets its
syllable's phonemes: consonants before the first vowel are its onset, the vowels and what lies between
them the nucleus, the consonants after the coda. A syllable the rules leave without a vowel still has
one sung: its last voiced consonant, else the previous vowel (a note that carries a lyric is never
silent). The ARPAbet is mapped through the voice's English table, as Japanese is on a voice without
its own Japanese table.

Sounds English lacks are sung with the nearest ARPAbet: German ü as uw and ö as er, ch as hh (after a,
o, u) or sh; French nasal vowels as vowel + ng, u as uw, the mute e as ah; the rolled or tapped r as
ARPAbet r; pure vowels e and o as eh and ao (never the diphthongs ey/ow, except German long e and
French é, ey).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from singer_tasks.phonemize.dictionary import ARPABET_VOWELS, PhonemeDictionary
from singer_tasks.phonemize.units import Syllable, words_of
from singer_tasks.score.model import Note

__all__ = ["EUROPEAN", "european_syllables", "phonemize_word", "word_syllables"]

EUROPEAN = ("de", "it", "la", "fr", "es", "haw")
"""The languages this module reads."""

_MUTE_E = "E?"  # French unaccented e whose fate depends on its syllable (schwa alone, silent otherwise)
_VOICED = ("m", "n", "ng", "l", "r", "w", "y", "v", "z", "zh", "dh", "b", "d", "g", "jh")
_LETTERS = re.compile(r"[^\W\d_]+(?:['\u2019\u02bb`][^\W\d_]+)*", re.UNICODE)
_WORD_BREAKS = re.compile(r"[_\u203f\u035c~\u2010\u2011\u2013\u2014/\s]+")

Cond = Callable[[str, int], bool]


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    phonemes: tuple[str, ...]
    cond: Cond | None = None


def _rules(table: Sequence[tuple[str, str] | tuple[str, str, Cond]]) -> tuple[_Rule, ...]:
    out = []
    for row in table:
        pattern = row[0].replace("{V}", "[aeiouyàáâäèéêëìíîïòóôöùúûüýæœ]").replace("{C}", "[bcdfghjklmnpqrstvwxzßçñ]")
        cond = row[2] if len(row) == 3 else None
        out.append(_Rule(re.compile(pattern), tuple(row[1].split()), cond))
    return tuple(out)


def _earlier_vowel(s: str, i: int) -> bool:
    """Whether the word has a vowel letter before position i (so an ending here is unstressed)."""
    start = s.rfind("#", 0, i)
    return re.search(r"[aeiouyäöü]", s[start + 1 : i]) is not None


def _long(s: str, i: int) -> bool:
    """German: a vowel is long before at most one consonant letter (then a vowel or the word's end)."""
    rest = s[i + 1 :].replace("|", "").replace("sch", "ss").replace("ch", "cc").replace("ck", "kk")
    return re.match(r"[bcdfgklmnpqrstvwxzß]?([aeiouäöüy#]|h)", rest) is not None


# --- German ---------------------------------------------------------------------------------------

_DE = _rules([
    (r"tsch", "ch"), (r"sch", "sh"), (r"(?<=[#|])s(?=[pt])", "sh"), (r"chs", "k s"),
    (r"(?<=[aouAOU])ch|(?<=au)ch", "hh"), (r"ch", "sh"), (r"ck", "k"), (r"ph", "f"), (r"th", "t"),
    (r"qu", "k v"), (r"pf", "p f"), (r"t?z", "t s"), (r"ß|ss", "s"), (r"(?<=[#|])s(?={V})", "z"),
    (r"(?<=[nlrm])s(?={V})", "z"), (r"ng", "ng"), (r"n(?=k)", "ng"), (r"x", "k s"), (r"dt", "t"),
    (r"ig(?=#)", "ih sh"), (r"b(?=#|[st]#)", "p"), (r"d(?=#|[st]#)", "t"), (r"g(?=#|[st]#)", "k"),
    (r"v", "f"), (r"w", "v"), (r"j", "y"), (r"(?<={V})h(?!{V})", ""), (r"(?<={V})\|?h(?={V})", ""),
    (r"h", "hh"), (r"ie[h]?", "iy"), (r"ei|ai|ey|ay", "ay"), (r"eu|äu", "oy"), (r"au", "aw"),
    (r"er(?=#|n#|s#)", "ah", _earlier_vowel),
    (r"e(?=[nlmst]?#|n[st]#|st#)", "ah", _earlier_vowel), (r"ee|eh", "ey"), (r"e", "ey", _long), (r"e", "eh"),
    (r"aa|ah|a", "aa"), (r"ä[h]?", "eh"), (r"oo|oh|o", "ao"), (r"ö[h]?", "er"), (r"uh", "uw"),
    (r"u", "uw", _long), (r"u", "uh"), (r"ü[h]?|y", "uw"), (r"ih", "iy"), (r"i", "iy", _long), (r"i", "ih"),
    (r"([bdfgklmnprst])\1", r"\1"), (r"b", "b"), (r"c", "k"), (r"d", "d"), (r"f", "f"), (r"g", "g"), (r"k", "k"),
    (r"l", "l"), (r"m", "m"), (r"n", "n"), (r"p", "p"), (r"r", "r"), (r"s", "s"), (r"t", "t"),
])  # fmt: skip

# --- Italian --------------------------------------------------------------------------------------

_IT = _rules([
    (r"sci(?=[aouàòù])", "sh"), (r"sc(?=[eièéì])", "sh"), (r"ci(?=[aouàòù])", "ch"), (r"c(?=[eièéì])", "ch"),
    (r"gli(?=[aeouàèòù])", "l y"), (r"gli", "l y iy"), (r"gi(?=[aouàòù])", "jh"), (r"g(?=[eièéì])", "jh"),
    (r"gn", "n y"), (r"ch", "k"), (r"gh", "g"), (r"qu", "k w"), (r"c", "k"), (r"z", "t s"), (r"h", ""),
    (r"i(?=[aeouàèéòóù])", "y"), (r"(?<=[#|])u(?=[aeoiàèéòó])", "w"), (r"(?<=g)u(?=[aeoiàèéòó])", "w"),
    (r"[aàá]", "aa"), (r"[eèé]", "eh"), (r"[iìíî]", "iy"), (r"[oòó]", "ao"), (r"[uùú]", "uw"), (r"j", "y"),
    (r"b", "b"), (r"d", "d"), (r"f", "f"), (r"g", "g"), (r"k", "k"), (r"l", "l"), (r"m", "m"), (r"n", "n"),
    (r"p", "p"), (r"r", "r"), (r"(?<={V})s(?={V})", "z"), (r"s(?=[bdglmnrv])", "z"), (r"s", "s"), (r"t", "t"),
    (r"v", "v"), (r"w", "w"), (r"x", "k s"), (r"y", "iy"),
])  # fmt: skip

# --- Latin (ecclesiastical, Italianate: the pronunciation of most sung Latin) ---------------------

_FRONT = r"(?=[eiyæœ]|ae|oe)"
_LA = _rules([
    (r"xc" + _FRONT, "k sh"), (r"x(?=\|c(?:[eiyæœ]|ae|oe))", "k"), (r"(?<=x\|)c" + _FRONT, "sh"),
    (r"sc" + _FRONT, "sh"), (r"cc" + _FRONT, "t ch"), (r"c" + _FRONT, "ch"),
    (r"ch", "k"), (r"g" + _FRONT, "jh"), (r"gn", "n y"), (r"qu", "k w"), (r"(?<=n)gu(?={V})", "g w"),
    (r"(?<=mi)h(?=i)|(?<=mi\|)h(?=i)|(?<=ni)h(?=il)|(?<=ni\|)h(?=il)", "k"), (r"ph", "f"), (r"th", "t"),
    (r"rh", "r"), (r"h", ""),
    (r"(?<![#|st])ti(?=\|?[aeiou])", "t s iy"), (r"(?<=[^#|st]\|)ti(?=\|?[aeiou])", "t s iy"),
    (r"x", "k s"), (r"z", "d z"), (r"(?<=[#|])[ij](?=[aeiou])", "y"), (r"j", "y"), (r"ae|æ|oe|œ", "eh"),
    (r"au", "aw"), (r"[aā]", "aa"), (r"[eē]", "eh"), (r"[iīy]", "iy"), (r"[oō]", "ao"), (r"[uū]", "uw"),
    (r"c", "k"), (r"k", "k"), (r"b", "b"), (r"d", "d"), (r"f", "f"), (r"g", "g"), (r"l", "l"), (r"m", "m"),
    (r"n", "n"), (r"p", "p"), (r"r", "r"), (r"s", "s"), (r"t", "t"), (r"v", "v"), (r"w", "v"),
])  # fmt: skip

# --- French ---------------------------------------------------------------------------------------

_NASAL_END = r"(?![aeiouyéèênmh])"
_FR = _rules([
    (r"eau[x]?", "ao"), (r"au[x]?", "ao"), (r"oi", "w aa"), (r"oin" + _NASAL_END, "w ae ng"),
    (r"ou|où|oû", "uw"), (r"(?<={V})ill", "y"), (r"ill", "iy y"), (r"(?<=[aeou])il(?=#)", "y"),
    (r"ien" + _NASAL_END, "y ae ng"), (r"[ae]i[nm]" + _NASAL_END, "ae ng"), (r"[iy][nm]" + _NASAL_END, "ae ng"),
    (r"u[nm]" + _NASAL_END, "ae ng"), (r"o[nm]" + _NASAL_END, "ao ng"), (r"[ae][nm]" + _NASAL_END, "aa ng"),
    (r"ai(?=#)", "ey"), (r"ai|aî|ei|ay", "eh"), (r"eu|œu|œ", "er"), (r"er(?=#)", "ey", _earlier_vowel),
    (r"ez(?=#)", "ey"), (r"et(?=#)", "eh"), (r"é", "ey"), (r"[èêë]", "eh"),
    (r"e(?=([bcdfgklmnpqrstvxz])\|?\1)", "eh"), (r"e(?=x)", "eh"), (r"e(?=[rlcf]#)", "eh"),
    (r"e(?=[bcdfgkmnpqstvz]\|?[bcdfgkmnpqstvz])", "eh"), (r"e", _MUTE_E),
    (r"[aàâ]", "aa"), (r"[iîïy](?={V})", "y"), (r"[iîïy]", "iy"), (r"[oô]", "ao"), (r"[uùû]", "uw"),
    (r"ch", "sh"), (r"gn", "n y"), (r"qu", "k"), (r"gu(?=[eéèiy])", "g"), (r"c(?=[eéèêiy])", "s"), (r"ç", "s"),
    (r"ph", "f"), (r"th", "t"), (r"h", ""), (r"g(?=[eéèêiy])", "zh"), (r"j", "zh"),
    (r"[dtsxzpg]+(?=#)", "", _earlier_vowel), (r"(?<={V})s(?=\|?{V})", "z"), (r"ss", "s"),
    (r"x", "k s"), (r"([bcdfglmnprt])\1", r"\1"), (r"c|k", "k"), (r"b", "b"), (r"d", "d"), (r"f", "f"),
    (r"g", "g"), (r"l", "l"), (r"m", "m"), (r"n", "n"), (r"p", "p"), (r"r", "r"), (r"s", "s"), (r"t", "t"),
    (r"v|w", "v"), (r"z", "z"),
])  # fmt: skip

# --- Spanish (seseo: c before e/i and z as s, as most singers sing it) ----------------------------

_ES = _rules([
    (r"ch", "ch"), (r"ll", "y"), (r"ñ", "n y"), (r"rr", "r"), (r"qu", "k"), (r"gu(?=[eéií])", "g"),
    (r"gü", "g w"), (r"c(?=[eéií])", "s"), (r"z", "s"), (r"c|k", "k"), (r"g(?=[eéií])", "hh"), (r"j", "hh"),
    (r"h", ""), (r"v|b", "b"), (r"x", "k s"), (r"y(?=#)", "iy"), (r"(?<=[#|])y(?=#)", "iy"), (r"y", "y"),
    (r"i(?=[aeoáéóu])|(?<=[aeoáéó])i", "y"), (r"u(?=[aeoáéói])|(?<=[aeoáéó])u", "w"),
    (r"[aá]", "aa"), (r"[eé]", "eh"), (r"[ií]", "iy"), (r"[oó]", "ao"), (r"[uúü]", "uw"),
    (r"d", "d"), (r"f", "f"), (r"l", "l"), (r"m", "m"), (r"n", "n"), (r"p", "p"), (r"r", "r"), (r"s", "s"),
    (r"t", "t"), (r"w", "w"),
])  # fmt: skip

# --- Hawaiian (five vowels, eight consonants; the okina is a glottal stop, sung as a clean onset) ----

_HAW = _rules([
    (r"[aā]", "aa"), (r"[eē]", "eh"), (r"[iī]", "iy"), (r"[oō]", "ao"), (r"[uū]", "uw"), (r"h", "hh"),
    (r"k", "k"), (r"l", "l"), (r"m", "m"), (r"n", "n"), (r"p", "p"), (r"w", "w"), (r"['\u02bb\u2018`\u2019]", ""),
])  # fmt: skip

_RULES = {"de": _DE, "it": _IT, "la": _LA, "fr": _FR, "es": _ES, "haw": _HAW}


def _clean(text: str) -> str:
    """Lower case, NFC, ligatures and letters kept (accents matter here), everything else dropped."""
    text = unicodedata.normalize("NFC", text).casefold().replace("\u2019", "'").replace("\u02bc", "'")
    return "".join(c if c.isalpha() or c in "'\u02bb\u2018`" else " " for c in text)


@lru_cache(maxsize=4096)
def phonemize_word(lang: str, syllables: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """ARPAbet per syllable of one word, read with the word's context ("mei", "ne" -> (m ay), (n ah))."""
    rules = _RULES[lang]
    pieces = [_clean(s).replace(" ", "") for s in syllables]
    word = "#" + "|".join(pieces) + "#"
    if lang == "fr":
        word = _french_monosyllables(word)
    out: list[list[str]] = [[] for _ in syllables]
    i, syllable = 1, 0
    while i < len(word) - 1:
        c = word[i]
        if c == "|":
            syllable += 1
            i += 1
            continue
        for rule in rules:
            m = rule.pattern.match(word, i)
            if m is None or m.end() <= i or (rule.cond is not None and not rule.cond(word, i)):
                continue
            phonemes = [m.expand(p) if "\\" in p else p for p in rule.phonemes]
            out[syllable] += [p for p in phonemes if p]
            syllable += word.count("|", i, m.end())  # a rule spanning a break moves on with it
            i = m.end()
            break
        else:
            i += 1  # a letter no rule reads (an apostrophe, a foreign letter): silent
    return tuple(_resolve_mute_e(phs) for phs in out)


def _french_monosyllables(word: str) -> str:
    # les, des, mes, tes, ses, ces: a closed e (é) and a silent s
    return re.sub(r"(?<=#)([lmtsdc])es(?=#)", r"\1é", word)


def _resolve_mute_e(phonemes: list[str]) -> tuple[str, ...]:
    """A French mute e is sung (ah) when it is its syllable's only vowel, silent otherwise."""
    if _MUTE_E not in phonemes:
        return tuple(phonemes)
    alone = not any(p in ARPABET_VOWELS for p in phonemes)
    first = phonemes.index(_MUTE_E)
    kept = [p for k, p in enumerate(phonemes) if p != _MUTE_E or (alone and k == first)]
    return tuple("ah" if p == _MUTE_E else p for p in kept)


def word_syllables(lang: str, syllables: Sequence[str]) -> list[tuple[str, ...]]:
    """ARPAbet per syllable of one word written over several notes; a lyric holding several words
    (an elision "co_e") is read word by word and joined."""
    if len(syllables) == 1:
        words = [w for w in _WORD_BREAKS.split(_clean(syllables[0])) if w]
        return [tuple(p for w in words for p in phonemize_word(lang, (w,))[0])]
    return [tuple(p) for p in phonemize_word(lang, tuple(syllables))]


def european_syllables(notes: Sequence[Note], dictionary: PhonemeDictionary, lang: str) -> list[Syllable | None]:
    """One entry per note: the Syllable it starts (every note with a lyric of letters gets one), or
    None when it continues the previous one."""
    out: list[Syllable | None] = [None] * len(notes)
    last_vowel: tuple[str, ...] = ()
    for indices in words_of(notes):
        texts = [(notes[i].lyric or "").strip() for i in indices]
        for i, phonemes in zip(indices, word_syllables(lang, texts), strict=True):
            syllable = _split(phonemes, last_vowel)
            if syllable is None:
                continue
            out[i] = _to_voice(syllable, dictionary)
            vowels = [p for p in syllable[1] if p in ARPABET_VOWELS]
            last_vowel = (vowels[-1],) if vowels else last_vowel
    return out


def _split(
    phonemes: Sequence[str], last_vowel: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None:
    """(onset, nucleus, coda) of one note's phonemes; a vowel-less syllable sings its last voiced
    consonant, else the previous vowel (else ah); None only when the lyric has nothing to sing."""
    vowels = [k for k, p in enumerate(phonemes) if p in ARPABET_VOWELS]
    if vowels:
        first, last = vowels[0], vowels[-1]
        return tuple(phonemes[:first]), tuple(phonemes[first : last + 1]), tuple(phonemes[last + 1 :])
    if not phonemes:
        return None
    voiced = [k for k, p in enumerate(phonemes) if p in _VOICED]
    if voiced:
        k = voiced[-1]
        return tuple(phonemes[:k]), (phonemes[k],), tuple(phonemes[k + 1 :])
    return tuple(phonemes), last_vowel or ("ah",), ()


def _to_voice(parts: tuple[tuple[str, ...], ...], dictionary: PhonemeDictionary) -> Syllable:
    onset, nucleus, coda = (tuple(v for p in part for v in dictionary.lookup("en", p)) for part in parts)
    return Syllable(onset, nucleus, coda)


def has_letters(text: str) -> bool:
    """Whether a lyric holds letters (so it must be sung)."""
    return _LETTERS.search(text) is not None
