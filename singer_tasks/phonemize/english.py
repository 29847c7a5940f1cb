"""English lyrics -> one Syllable per sung note.

Syllables a word is split into by syllabic marks (begin/middle/end) are joined before lookup and the
word's phonemes are spread back, one vowel nucleus per note. More nuclei than notes ("fire" on one
note): nuclei merge into the notes there are. Fewer: a note that carries a syllable is still sung, so
each note left without a nucleus sings its own syllable read alone ("ne" of "mei-ne"), or, when that
has no vowel either, the word's last vowel again. Consonants between two nuclei go to
the later syllable as far as English allows a syllable to start with them (maximal onset).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from singer_tasks.phonemize.dictionary import ARPABET_VOWELS, PhonemeDictionary
from singer_tasks.phonemize.g2p import word_phonemes
from singer_tasks.phonemize.units import Syllable, words_of
from singer_tasks.score.model import Note

_APOSTROPHES = str.maketrans({c: "'" for c in "\u2019\u2018\u02bc`\u00b4"})
_WORD_BREAKS = re.compile(r"[_\u203f\u035c~\-\u2010\u2011\u2013\u2014/]")
_VOICED_CONSONANTS = frozenset({"m", "n", "ng", "l", "r", "w", "y", "v", "z", "zh", "dh", "b", "d", "g", "jh"})
_ONSETS = frozenset(
    tuple(o.split())
    for o in [
        "p r",
        "p l",
        "p y",
        "b r",
        "b l",
        "b y",
        "t r",
        "t w",
        "d r",
        "d w",
        "k r",
        "k l",
        "k w",
        "k y",
        "g r",
        "g l",
        "g w",
        "f r",
        "f l",
        "f y",
        "th r",
        "th w",
        "sh r",
        "s p",
        "s t",
        "s k",
        "s m",
        "s n",
        "s l",
        "s w",
        "s f",
        "s p r",
        "s t r",
        "s k r",
        "s p l",
        "s k w",
        "s k y",
        "m y",
        "v y",
        "hh y",
        "n y",
    ]
)


def clean_lyric(text: str) -> list[str]:
    """The words of a lyric: lower case, accents and punctuation dropped, inner apostrophes kept."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    text = _WORD_BREAKS.sub(" ", text)
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    text = re.sub(r"[^a-z' ]", " ", text.lower())
    words = [w.strip("'") if not re.search(r"[a-z]'[a-z]|^'[a-z]|[a-z]in'$", w) else w for w in text.split()]
    return [w for w in words if re.search(r"[a-z]", w)]


def english_syllables(notes: Sequence[Note], dictionary: PhonemeDictionary) -> list[Syllable | None]:
    """One entry per note: the Syllable it starts, or None when it continues the previous one."""
    out: list[Syllable | None] = [None] * len(notes)
    for indices in words_of(notes):
        text = " ".join(notes[i].lyric or "" for i in indices) if len(indices) == 1 else _joined(notes, indices)
        arpabet = [p for w in clean_lyric(text) for p in word_phonemes(w)]
        last_vowel: tuple[str, ...] = ()
        for i, syllable in zip(indices, split_syllables(arpabet, len(indices)), strict=True):
            if syllable is None and clean_lyric(notes[i].lyric or ""):
                syllable = _alone(notes[i].lyric or "", last_vowel)
            if syllable is not None:
                vowels = [p for p in syllable[1] if p in ARPABET_VOWELS]
                last_vowel = (vowels[-1],) if vowels else last_vowel
            out[i] = None if syllable is None else _to_voice(syllable, dictionary)
    return out


def _alone(lyric: str, last_vowel: tuple[str, ...]) -> tuple[tuple[str, ...], ...] | None:
    """A syllable the word's reading gave no nucleus, read on its own; the previous vowel again when
    that has none (so a note with a lyric is never silent)."""
    arpabet = [p for w in clean_lyric(lyric) for p in word_phonemes(w)]
    if any(p in ARPABET_VOWELS for p in arpabet):
        return split_syllables(arpabet, 1)[0]
    return ((), last_vowel, ()) if last_vowel else None


def _joined(notes: Sequence[Note], indices: list[int]) -> str:
    # syllables of one word join without a space so the dictionary sees "jeannie", not "jean nie"
    return "".join((notes[i].lyric or "").strip().strip("-") for i in indices)


def split_syllables(phonemes: Sequence[str], notes: int) -> list[tuple[tuple[str, ...], ...] | None]:
    """Spread a word's ARPAbet over `notes` notes: (onset, nucleus, coda) per note, None for melisma."""
    if not phonemes:
        return [None] * notes
    nuclei = [i for i, p in enumerate(phonemes) if p in ARPABET_VOWELS]
    if not nuclei:  # "hmm", "shh": sustain the last voiced consonant (or the last phoneme)
        voiced = [i for i, p in enumerate(phonemes) if p in _VOICED_CONSONANTS]
        nuclei = [voiced[-1] if voiced else len(phonemes) - 1]
    groups = min(len(nuclei), notes)
    base, extra = divmod(len(nuclei), groups)
    spans: list[tuple[int, int]] = []  # (first nucleus index, last nucleus index) per group
    k = 0
    for g in range(groups):
        size = base + (1 if g < extra else 0)
        spans.append((nuclei[k], nuclei[k + size - 1]))
        k += size
    starts = [0] + [_onset_start(phonemes, spans[g][1] + 1, spans[g + 1][0]) for g in range(groups - 1)]
    ends = [*starts[1:], len(phonemes)]
    result: list[tuple[tuple[str, ...], ...] | None] = []
    for (first, last), start, end in zip(spans, starts, ends, strict=True):
        result.append(
            (tuple(phonemes[start:first]), tuple(phonemes[first : last + 1]), tuple(phonemes[last + 1 : end]))
        )
    return result + [None] * (notes - groups)


def _onset_start(phonemes: Sequence[str], lo: int, hi: int) -> int:
    """Where the next syllable starts within the consonants phonemes[lo:hi] (maximal legal onset)."""
    for start in range(lo, hi):
        cluster = tuple(phonemes[start:hi])
        if (len(cluster) == 1 and cluster[0] != "ng") or cluster in _ONSETS:
            return start
    return hi


def _to_voice(parts: tuple[tuple[str, ...], ...], dictionary: PhonemeDictionary) -> Syllable:
    onset, nucleus, coda = (tuple(v for p in part for v in dictionary.lookup("en", p)) for part in parts)
    return Syllable(onset, nucleus, coda)
