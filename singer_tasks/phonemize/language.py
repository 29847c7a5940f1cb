"""Which language a lyric line is in: xml:lang, then the script, then the text itself.

`detect_language` reads a line's whole text (its syllables joined into words): kana mean Japanese,
hanzi Chinese, other non-Latin scripts are named by the detector; Latin-script text is Mandarin when
it is tone-numbered (or tone-marked) pinyin, Hawaiian when every word spells like Hawaiian, Latin when
every word is a liturgical Latin word ("Kyrie eleison", "Benedicamus Domino"), and otherwise goes to
py3langid, an offline detector that ships its model in the wheel (BSD-3-Clause, 4.6 MB; numpy only;
nothing is downloaded). A short or ambiguous text falls back to English, as before; a confident
detection of a language the voice cannot sing is refused by the caller, naming it.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from singer_tasks.score.model import Note

NAMES = {
    "en": "English", "zh": "Mandarin Chinese", "ja": "Japanese", "de": "German", "it": "Italian", "la": "Latin",
    "fr": "French", "es": "Spanish", "haw": "Hawaiian", "pt": "Portuguese", "nl": "Dutch", "ru": "Russian",
    "ko": "Korean", "pl": "Polish", "cs": "Czech", "sv": "Swedish", "no": "Norwegian", "nb": "Norwegian",
    "nn": "Norwegian", "da": "Danish", "fi": "Finnish", "hu": "Hungarian", "el": "Greek", "tr": "Turkish",
    "uk": "Ukrainian", "he": "Hebrew", "ar": "Arabic", "hi": "Hindi", "ca": "Catalan", "ro": "Romanian",
    "sk": "Slovak", "sl": "Slovenian", "hr": "Croatian", "sr": "Serbian", "bg": "Bulgarian", "et": "Estonian",
    "lv": "Latvian", "lt": "Lithuanian", "ga": "Irish", "cy": "Welsh", "eu": "Basque", "gl": "Galician",
    "id": "Indonesian", "ms": "Malay", "vi": "Vietnamese", "th": "Thai", "sw": "Swahili", "af": "Afrikaans",
    "eo": "Esperanto", "is": "Icelandic", "yue": "Cantonese", "tl": "Tagalog", "mi": "Maori", "sm": "Samoan",
}  # fmt: skip

# Languages a Latin-script lyric may be sung in; the detector's ranking is read among these when its
# overall answer is unsure (short lines, lyrics full of repeated syllables).
LATIN_SUNG = ("en", "de", "it", "la", "fr", "es")
MIN_LETTERS = 12  # below this a text is too short to tell: English, as before
MIN_DISTINCT_WORDS = 5  # fewer different words is a vocalise or a refrain of nonsense syllables: English
FALLBACK_MASS = 0.2  # a sung language second to an unsung one is taken only with this much probability
CONFIDENT = 0.9  # an unsung language is refused only above this probability ...
CONFIDENT_LETTERS = 40  # ... and on a text at least this long

# Regional varieties the detector tells apart from the language a singer would read them in (a Venetian
# or Ligurian guess for a madrigal's old Italian spelling): their probability counts for that language.
FOLD = {
    "lij": "it", "vec": "it", "nap": "it", "scn": "it", "lmo": "it", "pms": "it", "co": "it", "sc": "it",
    "ext": "es", "an": "es", "ast": "es", "gsw": "de", "bar": "de", "nds": "de", "pcm": "en", "sco": "en",
}  # fmt: skip

# The Ordinary of the Mass and other short liturgical texts: too short or too repetitive for the detector,
# but Latin beyond doubt when every word is one of these (syllables an edition left unjoined included).
LITURGICAL_LATIN = frozenset({
    "kyrie", "ky", "rie", "eleison", "eleyson", "leison", "kyrieleison", "christe", "christeleison", "amen",
    "alleluia", "alleluja", "sanctus", "hosanna", "osanna", "benedictus", "qui", "venit", "agnus", "dei", "deo",
    "gratias", "domino", "dominus", "domine", "benedicamus", "gloria", "in", "excelsis", "ite", "missa", "est",
    "ave", "maria", "dona", "nobis", "pacem", "requiem", "aeternam", "miserere", "pater", "noster", "credo",
    "et", "cum", "spiritu", "tuo", "tecum",
})  # fmt: skip
SHARED_WITH_ENGLISH = frozenset({"amen", "alleluia", "alleluja", "hosanna", "osanna", "gloria", "maria", "in", "et"})

_KANA = re.compile(r"[\u3041-\u3096\u30a1-\u30fa\u30fc\uff66-\uff9d]")
_HANZI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_PINYIN_MARKS = re.compile(r"[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ]")
_CARON_MACRON = re.compile(r"[ǎěǐǒǔǚǖǘǜ]")
_TONE_NUMBER = re.compile(r"^[a-zü:v]+[1-5]$")
_HAWAIIAN_WORD = re.compile(r"^(?:['\u02bb\u2018`\u2019]?[hklmnpw]?[aeiouāēīōū])+$")
_WORD = re.compile(r"[^\W_]+(?:['\u2019\u02bb][^\W_]+)*|['\u02bb\u2018`][^\W\d_]+", re.UNICODE)
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Detection:
    """A detected language (ISO 639 code), how it was found, and how sure the detector was (0..1)."""

    code: str
    how: str
    confidence: float = 1.0

    @property
    def name(self) -> str:
        """The language's English name."""
        return language_name(self.code)


def language_name(code: str) -> str:
    """The English name of a language code ("de" -> "German"); the code itself when unknown."""
    return NAMES.get(code, code)


def line_text(notes: Sequence[Note]) -> str:
    """A lyric line as text: syllables joined into words by their syllabic marks."""
    out: list[str] = []
    joining = False
    for note in notes:
        if note.melisma or not note.lyric:
            continue
        text = note.lyric.strip()
        if joining and note.syllabic in ("middle", "end") and out:
            out[-1] += text.strip("-")
        else:
            out.append(text)
        joining = note.syllabic in ("begin", "middle")
    return " ".join(out)


def detect_language(text: str) -> Detection:
    """The language of a lyric text (see the module docstring)."""
    if _KANA.search(text):
        return Detection("ja", "kana in the lyrics")
    if _HANZI.search(text):
        return Detection("zh", "Chinese characters in the lyrics")
    if _HANGUL.search(text):
        return Detection("ko", "Hangul in the lyrics")
    words = [w.casefold() for w in _WORD.findall(unicodedata.normalize("NFC", text))]
    if is_pinyin(words):
        return Detection("zh", "pinyin lyrics")
    letters = sum(c.isalpha() for c in text)
    if _is_hawaiian(words, letters):
        return Detection("haw", "Hawaiian spelling")
    if is_liturgical_latin(words):
        return Detection("la", "Latin liturgical words")
    if letters < MIN_LETTERS:
        return Detection("en", "too short to tell", 0.0)
    if len(set(words)) < MIN_DISTINCT_WORDS:  # a vocalise ("la li lo lu"): no language to tell
        return Detection("en", "too few different words to tell", 0.0)
    latin = sum(1 for c in text if c.isalpha() and unicodedata.name(c, "").startswith("LATIN"))
    ranked = _rank(" ".join(words))
    top, p = ranked[0]
    if top in LATIN_SUNG or (latin < letters / 2 and p >= 0.5):
        return Detection(top, "the lyrics' text", p)
    if p >= CONFIDENT and letters >= CONFIDENT_LETTERS:
        return Detection(top, "the lyrics' text", p)
    among = [(code, q) for code, q in ranked if code in LATIN_SUNG]
    total = sum(q for _, q in among) or 1.0
    code, q = among[0] if among else ("en", 0.0)
    if q >= FALLBACK_MASS and q / total >= 0.6:
        return Detection(code, "the lyrics' text", q / total)
    return Detection("en", "no clear language in the lyrics", 0.0)


def is_liturgical_latin(words: Sequence[str]) -> bool:
    """Whether every word (numbers aside: verse marks like "1.3.") is a liturgical Latin word and one at
    least is not also sung in English ("Amen", "Alleluia")."""
    spelled = [w for w in words if not w.isdigit()]
    return (
        bool(spelled)
        and all(w in LITURGICAL_LATIN for w in spelled)
        and any(w not in SHARED_WITH_ENGLISH for w in spelled)
    )


@lru_cache(maxsize=1)
def _pinyin_syllables() -> frozenset[str]:
    from singer_tasks.phonemize.pinyin_table import syllable_table  # the opencpop table's syllables

    return frozenset(syllable_table())


def is_pinyin(words: Sequence[str]) -> bool:
    """Whether words are Mandarin pinyin: nearly all spell pinyin syllables and most carry a tone
    (a number 1-5, or a mark; macrons and acutes alone are not enough, as Latin and Hawaiian use them)."""
    if not words:
        return False
    from singer_tasks.phonemize.mandarin import normalize_pinyin

    syllables = _pinyin_syllables()
    tokens = [t for w in words for t in re.findall(r"[^\W\d_]+[1-5]?", w)]
    if not tokens:
        return False
    spelled = sum(1 for t in tokens if _spells_pinyin(normalize_pinyin(t), syllables))
    numbered = sum(1 for t in tokens if _TONE_NUMBER.match(t))
    marked = sum(1 for t in tokens if _PINYIN_MARKS.search(t))
    caron = any(_CARON_MACRON.search(t) for t in tokens)
    if spelled < 0.8 * len(tokens):
        return False
    return numbered >= 0.5 * len(tokens) or (caron and marked >= 0.5 * len(tokens))


def _spells_pinyin(word: str, syllables: frozenset[str]) -> bool:
    """Whether a toneless word splits into pinyin syllables ("nihao" -> ni hao)."""
    ok = [True] + [False] * len(word)
    for end in range(1, len(word) + 1):
        ok[end] = any(ok[start] and word[start:end] in syllables for start in range(max(0, end - 6), end))
    return bool(word) and ok[-1]


def _is_hawaiian(words: Sequence[str], letters: int) -> bool:
    """Every word spells like Hawaiian (open syllables of h k l m n p w and five vowels), and there is
    enough text to mean it: Italian or Japanese lines of a few words can spell like it too."""
    if letters < MIN_LETTERS or len(words) < 4:
        return False
    hawaiian = sum(1 for w in words if _HAWAIIAN_WORD.match(w))
    distinct = {w for w in words if _HAWAIIAN_WORD.match(w) and any(c in w for c in "hkw'\u02bb\u2018`")}
    return hawaiian == len(words) and len(distinct) >= 2


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # ~0.6 s to load: only when text needs it

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _rank(text: str) -> list[tuple[str, float]]:
    with _LOCK:  # the identifier keeps per-call state in numpy buffers
        ranked = _identifier().rank(text)
    folded: dict[str, float] = {}
    for code, p in ranked:
        key = FOLD.get(str(code), str(code))
        folded[key] = folded.get(key, 0.0) + float(p)
    return sorted(folded.items(), key=lambda item: -item[1])
