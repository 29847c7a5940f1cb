"""The opencpop-style Mandarin dictionary, derived from the rules of pinyin spelling.

Each standard pinyin syllable splits into an initial (absent for a bare final) and a final; the
zero-initial spellings y- and w- are kept as initials, as opencpop does ("yan" -> y En). The final's
phoneme names follow opencpop: ü is v (lv, jue -> j ve), the apical vowel after z c s is i0 and after
zh ch sh r is ir, "ye"/"yan" use E/En. `python -m singer_tasks.phonemize.pinyin_table OUT` writes
phonemes/opencpop-zh.txt; a test checks the committed file matches these rules.
"""

from __future__ import annotations

import sys
from pathlib import Path

INITIALS = ("b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "zh", "ch", "sh", "r", "z", "c", "s")
_DENTAL = ("z", "c", "s")
_RETROFLEX = ("zh", "ch", "sh", "r")
_VELAR = ("g", "k", "h")

# final -> initials it combines with (standard Hanyu Pinyin syllable table)
_COMBINATIONS: dict[str, tuple[str, ...]] = {
    "a": ("b", "p", "m", "f", "d", "t", "n", "l", *_VELAR, *_RETROFLEX[:3], *_DENTAL),
    "o": ("b", "p", "m", "f", "l"),
    "e": ("m", "d", "t", "n", "l", *_VELAR, *_RETROFLEX, *_DENTAL),
    "ai": ("b", "p", "m", "d", "t", "n", "l", *_VELAR, *_RETROFLEX[:3], *_DENTAL),
    "ei": ("b", "p", "m", "f", "d", "t", "n", "l", *_VELAR, "zh", "sh", "z", "s"),
    "ao": ("b", "p", "m", "d", "t", "n", "l", *_VELAR, *_RETROFLEX, *_DENTAL),
    "ou": ("p", "m", "f", "d", "t", "n", "l", *_VELAR, *_RETROFLEX, *_DENTAL),
    "an": ("b", "p", "m", "f", "d", "t", "n", "l", *_VELAR, *_RETROFLEX, *_DENTAL),
    "en": ("b", "p", "m", "f", "d", "n", *_VELAR, *_RETROFLEX, *_DENTAL),
    "ang": ("b", "p", "m", "f", "d", "t", "n", "l", *_VELAR, *_RETROFLEX, *_DENTAL),
    "eng": ("b", "p", "m", "f", "d", "t", "n", "l", *_VELAR, *_RETROFLEX, *_DENTAL),
    "ong": ("d", "t", "n", "l", *_VELAR, "zh", "ch", "r", *_DENTAL),
    "i": ("b", "p", "m", "d", "t", "n", "l", "j", "q", "x"),
    "ia": ("d", "l", "j", "q", "x"),
    "ie": ("b", "p", "m", "d", "t", "n", "l", "j", "q", "x"),
    "iao": ("b", "p", "m", "d", "t", "n", "l", "j", "q", "x"),
    "iu": ("m", "d", "n", "l", "j", "q", "x"),
    "ian": ("b", "p", "m", "d", "t", "n", "l", "j", "q", "x"),
    "in": ("b", "p", "m", "n", "l", "j", "q", "x"),
    "iang": ("n", "l", "j", "q", "x"),
    "ing": ("b", "p", "m", "d", "t", "n", "l", "j", "q", "x"),
    "iong": ("j", "q", "x"),
    "u": ("b", "p", "m", "f", "d", "t", "n", "l", *_VELAR, *_RETROFLEX, *_DENTAL),
    "ua": (*_VELAR, *_RETROFLEX),
    "uo": ("d", "t", "n", "l", *_VELAR, *_RETROFLEX, *_DENTAL),
    "uai": (*_VELAR, "zh", "ch", "sh"),
    "ui": ("d", "t", *_VELAR, *_RETROFLEX, *_DENTAL),
    "uan": ("d", "t", "n", "l", *_VELAR, *_RETROFLEX, *_DENTAL),
    "un": ("d", "t", "l", *_VELAR, *_RETROFLEX, *_DENTAL),
    "uang": (*_VELAR, "zh", "ch", "sh"),
    "v": ("n", "l"),
    "ve": ("n", "l"),
}
# readings outside the standard table that pypinyin still produces for a few characters
_RARE: dict[str, tuple[str, ...]] = {
    "biang": ("b", "iang"), "bong": ("b", "ong"), "cei": ("c", "ei"), "din": ("d", "in"),
    "fiao": ("f", "iao"), "len": ("l", "en"), "nia": ("n", "ia"), "nun": ("n", "un"),
}  # fmt: skip
# ü after j q x is written u: ju -> j v
_JQX_U = {"u": "v", "ue": "ve", "uan": "van", "un": "vn"}
# syllables with no consonant initial, spelled with y-/w- or bare
_ZERO_INITIAL: dict[str, tuple[str, ...]] = {
    "a": ("a",), "o": ("o",), "e": ("e",), "ai": ("ai",), "ei": ("ei",), "ao": ("ao",), "ou": ("ou",),
    "an": ("an",), "en": ("en",), "ang": ("ang",), "eng": ("eng",), "er": ("er",),
    "yi": ("y", "i"), "ya": ("y", "a"), "yo": ("y", "o"), "ye": ("y", "E"), "yao": ("y", "ao"),
    "you": ("y", "ou"), "yan": ("y", "En"), "yin": ("y", "in"), "yang": ("y", "ang"),
    "ying": ("y", "ing"), "yong": ("y", "ong"), "yu": ("y", "v"), "yue": ("y", "ve"),
    "yuan": ("y", "van"), "yun": ("y", "vn"),
    "wu": ("w", "u"), "wa": ("w", "a"), "wo": ("w", "o"), "wai": ("w", "ai"), "wei": ("w", "ei"),
    "wan": ("w", "an"), "wen": ("w", "en"), "wang": ("w", "ang"), "weng": ("w", "eng"),
    # syllabic nasals of interjections (嗯, 呣): sung on the nearest open vowel
    "wong": ("w", "ong"), "ê": ("E",),
    "n": ("en",), "ng": ("eng",), "m": ("m", "en"), "hm": ("h", "en"), "hng": ("h", "eng"),
}  # fmt: skip


def syllable_table() -> dict[str, tuple[str, ...]]:
    """Every standard pinyin syllable (toneless, ü written v) -> its opencpop phonemes."""
    table: dict[str, tuple[str, ...]] = dict(_ZERO_INITIAL)
    for final, initials in _COMBINATIONS.items():
        for initial in initials:
            table[initial + final] = (initial, final)
    for initial in _DENTAL:
        table[initial + "i"] = (initial, "i0")
    for initial in _RETROFLEX:
        table[initial + "i"] = (initial, "ir")
    for written, final in _JQX_U.items():
        for initial in ("j", "q", "x"):
            table[initial + written] = (initial, final)
    for initial in ("n", "l"):  # "lue"/"nue" are common spellings of lve/nve
        table[initial + "ue"] = (initial, "ve")
    for syllable, phonemes in _RARE.items():
        table[syllable] = phonemes
    return dict(sorted(table.items()))


def dictionary_text() -> str:
    """The dictionary file's text: one `syllable TAB phonemes` line per syllable."""
    return "".join(f"{syl}\t{' '.join(phs)}\n" for syl, phs in syllable_table().items())


def main(argv: list[str] | None = None) -> int:
    """Write the dictionary to the path given (default phonemes/opencpop-zh.txt)."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else Path(__file__).resolve().parents[2] / "phonemes" / "opencpop-zh.txt"
    out.write_text(dictionary_text(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
