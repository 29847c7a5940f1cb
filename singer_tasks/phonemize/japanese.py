"""Japanese lyrics (kana, romaji, kanji) -> one Syllable per sung note, through the voice's dictionary.

A lyric is split into morae named by their Hepburn romaji ("ka", "shi", "tsu", "kya"): the graphemes
Japanese DiffSinger dictionaries (dsdict.yaml, dictionary.txt) are keyed by. ん is "n", っ "cl" and
the long-vowel mark ー "-". Kana are read as written: the particles は and へ sing "ha" and "he" (write
わ and え to sing "wa" and "e", as singing-synthesis users do). Romaji may be Hepburn or Kunrei ("si",
"tu", "zya"; where they clash, "ti" is Kunrei ち), with "n'", "nn" and doubled consonants.

Kanji are read by Sudachi (sudachipy with the sudachidict-small dictionary, both Apache-2.0; the wheel
ships the dictionary, nothing is downloaded). It is imported only when a lyric holds kanji, and reads
the whole song's text at once so a word spread over several notes is read as one word.

A note sings all its morae in order: the first mora's consonants are the note's onset, its vowel starts
on the note, later morae follow inside the note (merged into the nucleus) and a trailing ん or っ is
the coda. A note whose lyric is only ー (or ~) continues the previous vowel like a slurred note.

Voices: a voice with a Japanese table ("ja", keyed by romaji mora) sings its own entries, the last
phoneme of each being the mora's vowel. A voice without one (the built-in voice) sings DEFAULT_ARPABET,
an approximation of Japanese in ARPAbet, through its English table.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from singer_tasks.errors import DictionaryError, PhonemeError, UnreadableLyric
from singer_tasks.phonemize.dictionary import LanguageTable, PhonemeDictionary
from singer_tasks.phonemize.units import Syllable
from singer_tasks.score.model import Note

__all__ = [
    "CL",
    "DEFAULT_ARPABET",
    "LONG",
    "MORA_KEYS",
    "N",
    "has_kana",
    "has_kanji",
    "japanese_syllables",
    "japanese_table",
    "load_dsdict",
    "lyrics_morae",
    "read_kanji",
    "split_morae",
    "sung_language",
]

N = "n"  # ん, the moraic nasal
CL = "cl"  # っ, the moraic closure (sokuon)
LONG = "-"  # ー, the long-vowel mark

_KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef\u3005-\u3007\u30f6]")
_KANA = re.compile(r"[\u3041-\u3096\u309d\u309e\u30a1-\u30fa\u30fc-\u30fe\uff66-\uff9d]")
_LONG_MARKS = frozenset("ー~〜")
_SMALL = frozenset("ぁぃぅぇぉゃゅょゎ")

# --- kana -> mora keys ----------------------------------------------------------------------------

_ROWS = {
    "": "あいうえお", "k": "かきくけこ", "g": "がぎぐげご", "s": "さしすせそ", "z": "ざじずぜぞ",
    "t": "たちつてと", "d": "だぢづでど", "n": "なにぬねの", "h": "はひふへほ", "b": "ばびぶべぼ",
    "p": "ぱぴぷぺぽ", "m": "まみむめも", "r": "らりるれろ",
}  # fmt: skip
# Hepburn spells these as they sound; ぢ and づ sound like じ and ず in standard Japanese.
_HEPBURN = {"si": "shi", "zi": "ji", "ti": "chi", "tu": "tsu", "di": "ji", "du": "zu", "hu": "fu"}

_SINGLE: dict[str, str] = {
    kana: _HEPBURN.get(cons + vowel, cons + vowel)
    for cons, row in _ROWS.items()
    for vowel, kana in zip("aiueo", row, strict=True)
}
_SINGLE.update({
    "や": "ya", "ゆ": "yu", "よ": "yo", "わ": "wa", "ゐ": "i", "ゑ": "e", "を": "o", "ゔ": "vu",
    "ぁ": "a", "ぃ": "i", "ぅ": "u", "ぇ": "e", "ぉ": "o", "ゃ": "ya", "ゅ": "yu", "ょ": "yo", "ゎ": "wa",
    "ゕ": "ka", "ゖ": "ke",
})  # fmt: skip

_COMBOS: dict[str, str] = {}
for _base, _cons in {"き": "ky", "ぎ": "gy", "し": "sh", "じ": "j", "ち": "ch", "ぢ": "j", "に": "ny",
                     "ひ": "hy", "び": "by", "ぴ": "py", "み": "my", "り": "ry"}.items():  # fmt: skip
    for _small, _vowel in (("ゃ", "a"), ("ゅ", "u"), ("ょ", "o")):
        _COMBOS[_base + _small] = _cons + _vowel
_COMBOS.update({
    "しぇ": "she", "じぇ": "je", "ちぇ": "che", "いぇ": "ye",
    "ふぁ": "fa", "ふぃ": "fi", "ふぇ": "fe", "ふぉ": "fo", "ふゅ": "fyu",
    "てぃ": "ti", "でぃ": "di", "とぅ": "tu", "どぅ": "du", "てゅ": "tyu", "でゅ": "dyu",
    "すぃ": "si", "ずぃ": "zi", "うぃ": "wi", "うぇ": "we", "うぉ": "wo",
    "ゔぁ": "va", "ゔぃ": "vi", "ゔぇ": "ve", "ゔぉ": "vo",
    "つぁ": "tsa", "つぃ": "tsi", "つぇ": "tse", "つぉ": "tso", "くぁ": "kwa", "ぐぁ": "gwa",
})  # fmt: skip

# Katakana with no hiragana counterpart at +0x60 (ヷヸヹヺ), spelled with ゔ.
_KATAKANA_EXTRA = {"ヷ": "ゔぁ", "ヸ": "ゔぃ", "ヹ": "ゔぇ", "ヺ": "ゔぉ"}

# --- romaji -> mora keys --------------------------------------------------------------------------

MORA_KEYS: frozenset[str] = frozenset(_SINGLE.values()) | frozenset(_COMBOS.values())
"""Every mora key a lyric can give, besides N, CL and LONG."""

_ROMAJI: dict[str, str] = {key: key for key in MORA_KEYS}
# Kunrei and Nihon-shiki spellings, and common IME spellings; a Kunrei reading wins over the
# extended-kana key it clashes with ("ti" is ち, not てぃ), since lyric writers mean the former.
_ROMAJI.update(_HEPBURN)
_ROMAJI.update({
    "sya": "sha", "syu": "shu", "syo": "sho", "zya": "ja", "zyu": "ju", "zyo": "jo", "jya": "ja", "jyu": "ju",
    "jyo": "jo", "tya": "cha", "tyu": "chu", "tyo": "cho", "cya": "cha", "cyu": "chu", "cyo": "cho",
    "dya": "ja", "dyu": "ju", "dyo": "jo", "thi": "ti", "dhi": "di", "twu": "tu", "dwu": "du",
})  # fmt: skip
_ROMAJI_VOWELS = frozenset("aiueo")
_DOUBLING = frozenset("kstcpgzdbfhjrwv")

# --- the default, ARPAbet voice -------------------------------------------------------------------

# Japanese sounds in the ARPAbet the built-in voice sings. The tap r is nearer a short English l than
# the retroflex English r (whose low F3 sounds foreign); ts, ky... are sequences of two phonemes.
_ARPA_ONSETS: dict[str, tuple[str, ...]] = {
    "": (), "k": ("k",), "g": ("g",), "s": ("s",), "sh": ("sh",), "z": ("z",), "j": ("jh",), "t": ("t",),
    "ch": ("ch",), "ts": ("t", "s"), "d": ("d",), "n": ("n",), "h": ("hh",), "f": ("f",), "b": ("b",),
    "p": ("p",), "m": ("m",), "y": ("y",), "r": ("l",), "w": ("w",), "v": ("v",),
    "ky": ("k", "y"), "gy": ("g", "y"), "ny": ("n", "y"), "hy": ("hh", "y"), "by": ("b", "y"), "py": ("p", "y"),
    "my": ("m", "y"), "ry": ("l", "y"), "kw": ("k", "w"), "gw": ("g", "w"), "fy": ("f", "y"), "ty": ("t", "y"),
    "dy": ("d", "y"),
}  # fmt: skip
# Japanese o is a plain mid back vowel: ARPAbet ao, not the diphthong ow.
_ARPA_VOWELS = {"a": "aa", "i": "iy", "u": "uw", "e": "eh", "o": "ao"}

DEFAULT_ARPABET: Mapping[str, tuple[str, ...]] = {
    **{key: _ARPA_ONSETS[key[:-1]] + (_ARPA_VOWELS[key[-1]],) for key in sorted(MORA_KEYS)},
    N: ("n",),
}
"""Mora key -> ARPAbet, for voices without a Japanese dictionary. っ has no entry: it doubles the
next consonant; ん assimilates to the next mora (m before p/b/m, ng before k/g)."""

# Nearest core syllable for an extended one a voice's dictionary may lack.
_FALLBACK: dict[str, tuple[str, ...]] = {
    N: ("N", "ん"), CL: ("Q", "q", "っ"),
    "ti": ("chi",), "di": ("ji",), "tu": ("tsu",), "du": ("zu",), "si": ("shi",), "zi": ("ji",),
    "tyu": ("chu",), "dyu": ("ju",), "fyu": ("hyu",), "wi": ("i",), "we": ("e",), "wo": ("o",), "ye": ("e",),
    "kwa": ("ka",), "gwa": ("ga",), "tsa": ("cha",), "tsi": ("chi",), "tse": ("che", "se"), "tso": ("cho",),
    "fa": ("ha",), "fi": ("hi",), "fe": ("he",), "fo": ("ho",), "she": ("se",), "je": ("ze",), "che": ("chi",),
    "va": ("ba",), "vi": ("bi",), "vu": ("bu",), "ve": ("be",), "vo": ("bo",),
}  # fmt: skip


def has_kana(text: str) -> bool:
    """Whether a text holds hiragana or katakana (the mark of Japanese among CJK lyrics)."""
    return _KANA.search(text) is not None


def has_kanji(text: str) -> bool:
    """Whether a text holds kanji (or 々, ヶ), which need the reading dictionary."""
    return _KANJI.search(text) is not None


def _normalize(text: str) -> str:
    """NFKC (half-width kana, full-width latin), macron/circumflex vowels doubled, katakana as hiragana."""
    text = unicodedata.normalize("NFD", text)
    text = re.sub(r"([aiueoAIUEO])[\u0302\u0304]", r"\1\1", text)  # Hepburn ō, Kunrei ô: a long vowel
    text = unicodedata.normalize("NFKC", text)
    out = []
    for c in text:
        if c in _KATAKANA_EXTRA:
            out.append(_KATAKANA_EXTRA[c])
        elif "\u30a1" <= c <= "\u30f5" or c in "ヽヾ":  # ヶ stays: it is read like a kanji (一ヶ月)
            out.append(chr(ord(c) - 0x60))
        else:
            out.append(c)
    return "".join(out)


def split_morae(text: str) -> list[str]:
    """Mora keys of a kana or romaji lyric: Hepburn syllables, N for ん, CL for っ, LONG for ー.

    Punctuation, spaces and digits are skipped. Raises UnreadableLyric for kanji (read them with
    read_kanji or lyrics_morae first) and for latin text that is not romaji."""
    text = _normalize(text)
    if has_kanji(text):
        raise UnreadableLyric(f"'{text}' holds kanji; read it with read_kanji() first")
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isascii() and c.isalpha():
            j = i
            while j < len(text) and text[j].isascii() and (text[j].isalpha() or text[j] == "'"):
                j += 1
            out += _romaji_morae(text[i:j])
            i = j
        elif text[i : i + 2] in _COMBOS:
            out.append(_COMBOS[text[i : i + 2]])
            i += 2
        else:
            if c in _SINGLE:
                out.append(_SINGLE[c])
            elif c == "っ":
                out.append(CL)
            elif c == "ん":
                out.append(N)
            elif c in _LONG_MARKS:
                out.append(LONG)
            elif c in "ゝゞ" and out:  # iteration marks: the previous mora again, ゞ voiced
                out.append(_voiced(out[-1]) if c == "ゞ" else out[-1])
            i += 1
    return out


_VOICING = {"k": "g", "s": "z", "sh": "j", "t": "d", "ch": "j", "ts": "z", "h": "b", "f": "b"}


def _voiced(key: str) -> str:
    """The mora with its consonant voiced (ゞ after す is ず)."""
    onset, vowel = key[:-1], key[-1:]
    return _VOICING.get(onset, onset) + vowel


def _romaji_morae(word: str) -> list[str]:
    """Mora keys of one romaji word ("kitte", "kon'ya", "shimbun", "tōkyō" already doubled)."""
    w = word.lower().replace("l", "r")  # Japanese has one liquid; "la la" means ら
    out: list[str] = []
    i = 0
    while i < len(w):
        c, nxt = w[i], w[i + 1 : i + 2]
        after = w[i + 2 : i + 3]
        if c == "'":
            i += 1
        elif c == "n" and (nxt == "'" or (nxt == "n" and after not in _ROMAJI_VOWELS | {"y"})):
            out.append(N)  # "n'", and the IME's "nn" for ん
            i += 2
        elif (c == "n" and nxt not in _ROMAJI_VOWELS | {"y"}) or (c == "m" and nxt and nxt in "bpm"):
            out.append(N)  # n before a consonant or at the end; Hepburn's m before b, p, m
            i += 1
        elif (c in _DOUBLING and nxt == c) or (c == "t" and w[i + 1 : i + 3] == "ch"):
            out.append(CL)  # kk, tt, ss..., and Hepburn's tch
            i += 1
        else:
            for size in (3, 2, 1):
                key = _ROMAJI.get(w[i : i + size])
                if key is not None:
                    out.append(key)
                    i += size
                    break
            else:
                raise UnreadableLyric(
                    f"'{word}' is not Japanese romaji (at '{w[i:]}'); write the lyric in kana or Hepburn romaji"
                )
    return out


def _hiragana(text: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in text)


# --- kanji readings -------------------------------------------------------------------------------

_LOCK = threading.Lock()  # a Sudachi tokenizer is not safe to share between threads
_CHUNK = 1000  # characters per analysis: Sudachi bounds its input, and lyrics' context is short


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    try:
        from sudachipy import Dictionary, SplitMode  # loads a ~110 MB dictionary: only when kanji need it
    except ImportError as e:
        raise UnreadableLyric(
            "reading kanji needs the sudachipy and sudachidict-small packages, which are not installed; "
            "install them, or write the lyric in kana or romaji"
        ) from e
    for edition in ("small", "core", "full"):
        try:
            dictionary = Dictionary(dict=edition)
        except ImportError:
            continue
        # sudachipy 0.7 renamed create() to tokenizer(); 0.6 has only create()
        make = getattr(dictionary, "tokenizer", None) or dictionary.create
        return make(mode=SplitMode.C)
    raise UnreadableLyric(
        "reading kanji needs a Sudachi dictionary (pip install sudachidict-small); write the lyric in kana or romaji"
    )


def _morphemes(text: str) -> list[tuple[int, int, str]]:
    """(begin, end, hiragana reading) of each morpheme of a text holding kanji."""
    tokenizer = _tokenizer()
    with _LOCK:
        return [(m.begin(), m.end(), _hiragana(m.reading_form())) for m in tokenizer.tokenize(text)]


def read_kanji(text: str) -> str:
    """The text with its kanji replaced by their reading in hiragana (kana and other text kept)."""
    return _read_in_context([_normalize(text)])[0]


def _read_in_context(texts: Sequence[str]) -> list[str]:
    """Each text (one note's lyric) with its kanji words replaced by their reading, read over the
    texts joined so a word across notes is read whole. Raises UnreadableLyric for unread kanji."""
    if not any(has_kanji(t) for t in texts):
        return list(texts)
    edits: list[list[tuple[int, int, str]]] = [[] for _ in texts]  # per text: (start, end, reading)
    for chunk in _chunks(texts):
        joined = "".join(texts[i] for i in chunk)
        if not has_kanji(joined):
            continue
        starts = [0]
        for i in chunk:
            starts.append(starts[-1] + len(texts[i]))
        for begin, end, reading in _morphemes(joined):
            surface = joined[begin:end]
            if not has_kanji(surface):
                continue  # kana and romaji are read as written
            if not reading or has_kanji(reading):
                char = _KANJI.findall(surface)[0]
                raise UnreadableLyric(f"no reading is known for '{char}'; write that lyric in kana instead")
            spans = [  # (text index, start, end) of the morpheme's piece in each text it covers
                (chunk[k], max(begin, starts[k]) - starts[k], min(end, starts[k + 1]) - starts[k])
                for k in range(len(chunk))
                if starts[k] < end and begin < starts[k + 1]
            ]
            pieces = [texts[t][a:b] for t, a, b in spans]
            for (t, a, b), reading_part in zip(spans, _share_reading(reading, pieces), strict=True):
                edits[t].append((a, b, reading_part))
    out = []
    for text, text_edits in zip(texts, edits, strict=True):
        for a, b, reading in sorted(text_edits, reverse=True):
            text = text[:a] + reading + text[b:]
        out.append(text)
    return out


def _chunks(texts: Sequence[str]) -> list[list[int]]:
    chunks: list[list[int]] = [[]]
    size = 0
    for i, text in enumerate(texts):
        if chunks[-1] and size + len(text) > _CHUNK:
            chunks.append([])
            size = 0
        chunks[-1].append(i)
        size += len(text)
    return chunks


def _share_reading(reading: str, pieces: Sequence[str]) -> list[str]:
    """Split one word's reading over the pieces of it that lie on different notes: kana pieces at
    either end keep their kana, kanji pieces at either end take their reading read alone when the
    word's reading starts (ends) with it, and what is left is shared in proportion to the characters."""
    if len(pieces) == 1:
        return [reading]
    out = list(pieces)
    lo, hi, rest = 0, len(pieces), reading
    while hi - lo > 1 and not has_kanji(pieces[lo]) and rest.startswith(_hiragana(pieces[lo])):
        rest = rest[len(pieces[lo]) :]
        lo += 1
    while hi - lo > 1 and not has_kanji(pieces[hi - 1]) and rest.endswith(_hiragana(pieces[hi - 1])):
        rest = rest[: len(rest) - len(pieces[hi - 1])]
        hi -= 1
    # kanji pieces whose own reading starts (ends) what is left take it, from either end
    while hi - lo > 1 and (own := _alone(pieces[lo])) and rest.startswith(own) and len(own) < len(rest):
        out[lo], rest, lo = own, rest[len(own) :], lo + 1
    while hi - lo > 1 and (own := _alone(pieces[hi - 1])) and rest.endswith(own) and len(own) < len(rest):
        out[hi - 1], rest, hi = own, rest[: len(rest) - len(own)], hi - 1
    middle = pieces[lo:hi]
    if len(middle) == 1:
        out[lo] = rest
        return out
    units = _kana_units(rest)
    n, m = len(units), len(middle)
    spare = 1 if n >= m else 0  # each piece gets a mora while there are enough
    bounds, used, total = [0], 0, sum(len(p) for p in middle)
    for k, piece in enumerate(middle[:-1], 1):
        used += len(piece)
        bounds.append(min(max(round(n * used / total), bounds[-1] + spare), n - spare * (m - k)))
    bounds.append(n)
    for k in range(m):
        out[lo + k] = "".join(units[bounds[k] : bounds[k + 1]])
    return out


def _alone(piece: str) -> str:
    """A piece's reading read alone, "" when it has none."""
    try:
        return _read_in_context([piece])[0]
    except UnreadableLyric:
        return ""


def _kana_units(kana: str) -> list[str]:
    """Kana split into morae, small kana kept with the kana before them."""
    units: list[str] = []
    for c in kana:
        if c in _SMALL and units:
            units[-1] += c
        else:
            units.append(c)
    return units


def lyrics_morae(lyrics: Sequence[str | None]) -> list[list[str]]:
    """Mora keys per lyric (one per note; None for none), kanji read over all the lyrics together."""
    texts = [_normalize(ly) if ly else "" for ly in lyrics]
    return [split_morae(t) if t else [] for t in _read_in_context(texts)]


# --- voices ---------------------------------------------------------------------------------------


def sung_language(voice: PhonemeDictionary) -> str:
    """Whose phonemes sing Japanese on this voice: its own "ja" table, else its English (ARPAbet) table
    through DEFAULT_ARPABET; "ja" when it has neither, so the caller's table() check names the gap."""
    if "ja" in voice.tables or "en" not in voice.tables:
        return "ja"
    return "en"


def japanese_table(mapping: Mapping[str, Sequence[str] | str], vowels: Sequence[str] | None = None) -> LanguageTable:
    """A voice's Japanese table from a mapping romaji mora -> phonemes (a list or a space-separated
    string), as a DiffSinger voice's dsdict entries give it. vowels: the vowel phonemes; by default the
    last phoneme of each entry ending in a vowel, and the moraic nasal."""
    entries: dict[str, tuple[str, ...]] = {}
    for key, value in mapping.items():
        phonemes = tuple(value.split()) if isinstance(value, str) else tuple(value)
        if not phonemes:
            raise DictionaryError(f"the Japanese dictionary maps '{key}' to no phonemes")
        entries[key] = phonemes
    if not entries:
        raise DictionaryError("the Japanese dictionary has no entries")
    if vowels is None:
        found = {phs[-1] for key, phs in entries.items() if key[-1:] in _ROMAJI_VOWELS or key in (N, "N")}
        return LanguageTable("ja", entries, frozenset(found))
    return LanguageTable("ja", entries, frozenset(vowels))


def load_dsdict(path: str | Path) -> LanguageTable:
    """A Japanese table from a DiffSinger dsdict.yaml (`entries: [{grapheme, phonemes}]`, and
    `symbols: [{symbol, type}]` whose type "vowel" marks the vowels). Raises DictionaryError."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        entries = data["entries"]
        mapping = {str(e["grapheme"]): [str(p) for p in e["phonemes"]] for e in entries}
        symbols = data.get("symbols") or []
        vowels = [str(s["symbol"]) for s in symbols if s.get("type") == "vowel"] or None
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as e:
        raise DictionaryError(f"cannot read dsdict {path}: {e!r}; expected entries of grapheme and phonemes") from e
    return japanese_table(mapping, vowels)


@dataclass(frozen=True)
class _Sung:
    """One mora in voice phonemes: consonants before its vowel, and the vowel (empty for っ)."""

    consonants: tuple[str, ...]
    vowel: tuple[str, ...]
    kind: str  # "mora", N, CL or LONG

    @property
    def phonemes(self) -> tuple[str, ...]:
        return self.consonants + self.vowel


class _Voice:
    """Mora keys -> a voice's phonemes, from its Japanese table or through DEFAULT_ARPABET."""

    def __init__(self, dictionary: PhonemeDictionary) -> None:
        self.dictionary = dictionary
        self.lang = sung_language(dictionary)
        self.entries = dictionary.table(self.lang).entries  # raises UnsupportedLanguage

    def _own(self, key: str) -> tuple[str, ...] | None:
        for candidate in (key, *_FALLBACK.get(key, ())):
            if candidate in self.entries:
                return self.dictionary.lookup("ja", candidate)
        return None

    def _own_or_raise(self, key: str) -> tuple[str, ...]:
        own = self._own(key)
        # without it (nor a fallback), the lookup raises PhonemeError naming the syllable
        return own if own is not None else self.dictionary.lookup("ja", key)

    def _arpabet(self, phonemes: Sequence[str]) -> tuple[str, ...]:
        return tuple(v for p in phonemes for v in self.dictionary.lookup("en", p))

    def mora(self, key: str) -> _Sung:
        """A syllable mora ("ka", "kya")."""
        if self.lang == "ja":
            own = self._own_or_raise(key)
            return _Sung(own[:-1], own[-1:], "mora")
        arpa = DEFAULT_ARPABET.get(key)
        if arpa is None:
            raise PhonemeError(f"no default phonemes for the Japanese syllable '{key}'; write it in kana")
        return _Sung(self._arpabet(arpa[:-1]), self._arpabet(arpa[-1:]), "mora")

    def nasal(self, next_key: str | None) -> _Sung:
        """ん: the voice's own phoneme, or an ARPAbet nasal at the place of the next consonant."""
        if self.lang == "ja":
            return _Sung((), self._own_or_raise(N), N)
        head = (next_key or "")[:1]
        arpa = "m" if head and head in "pbm" else "ng" if head and head in "kg" else "n"
        return _Sung((), self._arpabet([arpa]), N)

    def closure(self, following: _Sung | None) -> _Sung:
        """っ: the voice's own closure phoneme, else a doubled first consonant of the next mora."""
        own = self._own(CL) if self.lang == "ja" else None
        if own is None:
            own = following.consonants[:1] if following is not None and following.kind == "mora" else ()
        return _Sung(own, (), CL)


def japanese_syllables(notes: Sequence[Note], dictionary: PhonemeDictionary) -> list[Syllable | None]:
    """One entry per note: the Syllable it starts, or None when it continues the previous one."""
    voice = _Voice(dictionary)
    per_note = lyrics_morae([None if n.melisma else n.lyric for n in notes])
    flat = [(i, key) for i, keys in enumerate(per_note) for key in keys]
    sung: list[list[_Sung]] = [[] for _ in notes]
    last_vowel: tuple[str, ...] = ()
    # backwards, so a っ knows the mora it doubles; long marks are resolved forwards after
    following: _Sung | None = None
    made: list[_Sung | None] = [None] * len(flat)
    for k in range(len(flat) - 1, -1, -1):
        key = flat[k][1]
        next_key = next((key2 for _, key2 in flat[k + 1 :] if key2 != LONG), None)
        if key == CL:
            made[k] = voice.closure(following)
        elif key == N:
            made[k] = voice.nasal(next_key)
        elif key != LONG:
            made[k] = voice.mora(key)
        if key != LONG:
            following = made[k]
    for (i, key), mora in zip(flat, made, strict=True):
        if key == LONG:
            mora = _Sung((), last_vowel, LONG)
        if mora is None:
            continue
        if mora.vowel:
            last_vowel = mora.vowel
        sung[i].append(mora)
    return [_syllable(morae) for morae in sung]


def _syllable(morae: Sequence[_Sung]) -> Syllable | None:
    """The Syllable of one note's morae; None when nothing in them has a vowel (only ー or っ)."""
    if not any(m.vowel and m.kind != LONG for m in morae):
        return None  # ー alone continues the previous vowel, like a slur
    voiced = [j for j, m in enumerate(morae) if m.vowel]
    first = voiced[0]
    vowels = [j for j in voiced if morae[j].kind != N]
    last = vowels[-1] if vowels else voiced[-1]  # a trailing ん is the coda; ん alone is the nucleus
    onset = tuple(p for m in morae[:first] for p in m.phonemes) + morae[first].consonants
    nucleus = morae[first].vowel + tuple(p for m in morae[first + 1 : last + 1] for p in m.phonemes)
    coda = tuple(p for m in morae[last + 1 :] for p in m.phonemes)
    return Syllable(onset, nucleus, coda)
