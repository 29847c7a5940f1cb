"""A voice's phoneme dictionary: what it can sing, per language.

File format (openvpi/opencpop style, also used for the English table): one entry per line,
`key TAB phoneme phoneme ...`. For Mandarin the key is a toneless pinyin syllable; for English it is
an ARPAbet phoneme (lower case, no stress) and the value the voice's phoneme(s) for it. An optional
`<stem>.phones.tsv` beside a dictionary lists `phoneme TAB class TAB voiced` (class "vowel" marks
nuclei); without it, vowels are inferred (the last phoneme of each Mandarin syllable, the ARPAbet
vowels for English). A multilingual voice names its phonemes `lang/phoneme` (openvpi's form);
`SP` (silence) and `AP` (breath) are shared and never prefixed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from singer_tasks.errors import DictionaryError, PhonemeError, UnsupportedLanguage
from singer_tasks.settings import get_settings

SILENCE = "SP"
BREATH = "AP"
ARPABET_VOWELS = frozenset({"aa", "ae", "ah", "ao", "aw", "ay", "eh", "er", "ey", "ih", "iy", "ow", "oy", "uh", "uw"})
BUILTIN_FILES = {"zh": "opencpop-zh.txt", "en": "arpabet-en.txt"}


def phonemes_dir() -> Path:
    """The folder of built-in dictionaries: SINGER_PHONEMES_DIR, else the repository's phonemes/."""
    return get_settings().phonemes_dir


@dataclass(frozen=True)
class LanguageTable:
    """One language of a dictionary: keys to (unprefixed) phonemes, and which phonemes are vowels."""

    lang: str
    entries: Mapping[str, tuple[str, ...]]
    vowels: frozenset[str]

    @classmethod
    def load(cls, path: str | Path, lang: str) -> LanguageTable:
        """Read `key TAB phonemes` lines (and `<stem>.phones.tsv` beside it when present)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise DictionaryError(f"cannot read dictionary {path}: {e}") from e
        entries: dict[str, tuple[str, ...]] = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            key, sep, value = line.partition("\t")
            if not sep or not value.split():
                raise DictionaryError(f"{path}:{number}: expected 'key<TAB>phonemes', got {line!r}")
            entries[key.strip()] = tuple(value.split())
        if not entries:
            raise DictionaryError(f"dictionary {path} has no entries")
        return cls(lang, entries, _vowels(path, lang, entries))


def _vowels(path: Path, lang: str, entries: Mapping[str, tuple[str, ...]]) -> frozenset[str]:
    classes = path.with_name(path.name.removesuffix(".txt") + ".phones.tsv")
    if classes.exists():
        rows = [ln.split("\t") for ln in classes.read_text(encoding="utf-8").splitlines() if ln and ln[0] != "#"]
        return frozenset(r[0] for r in rows if len(r) > 1 and r[1].strip() == "vowel")
    if lang == "en":
        return frozenset(entries[v][-1] for v in ARPABET_VOWELS if v in entries)
    return frozenset(phs[-1] for phs in entries.values())


@lru_cache(maxsize=4)
def _builtin(folder: str, prefixed: bool) -> PhonemeDictionary:
    return PhonemeDictionary.load_many({lang: Path(folder) / f for lang, f in BUILTIN_FILES.items()}, prefixed=prefixed)


class PhonemeDictionary:
    """The phonemes a voice knows, per language; `prefixed` voices name them `lang/phoneme`."""

    def __init__(self, tables: Iterable[LanguageTable], *, prefixed: bool = False) -> None:
        self.tables = {t.lang: t for t in tables}
        self.prefixed = prefixed
        names = {self.name(t.lang, p) for t in self.tables.values() for phs in t.entries.values() for p in phs}
        self.inventory: frozenset[str] = frozenset(names | {SILENCE, BREATH})
        self._vowels = frozenset(self.name(t.lang, v) for t in self.tables.values() for v in t.vowels)

    @classmethod
    def load(cls, path: str | Path, lang: str) -> PhonemeDictionary:
        """A single-language dictionary from one file."""
        return cls([LanguageTable.load(path, lang)])

    @classmethod
    def load_many(cls, paths: Mapping[str, str | Path], *, prefixed: bool = True) -> PhonemeDictionary:
        """A multilingual dictionary: language -> file."""
        return cls([LanguageTable.load(p, lang) for lang, p in paths.items()], prefixed=prefixed)

    @classmethod
    def builtin(cls, *, prefixed: bool = False) -> PhonemeDictionary:
        """The built-in voice's dictionaries (phonemes/): Mandarin (opencpop) and English (ARPAbet).
        Read once per folder and form; treat the result as read-only."""
        return _builtin(str(phonemes_dir()), prefixed)

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages this voice sings."""
        return tuple(sorted(self.tables))

    def name(self, lang: str, phoneme: str) -> str:
        """The voice's name for a phoneme of a language (`lang/phoneme` on a prefixed voice)."""
        if not self.prefixed or phoneme in (SILENCE, BREATH):
            return phoneme
        return f"{lang}/{phoneme}"

    def table(self, lang: str) -> LanguageTable:
        """The table of one language; raises UnsupportedLanguage naming the voice's languages."""
        try:
            return self.tables[lang]
        except KeyError:
            raise UnsupportedLanguage(
                f"this voice does not sing language '{lang}'; it sings {', '.join(self.languages)}"
            ) from None

    def lookup(self, lang: str, key: str) -> tuple[str, ...]:
        """The voice's phonemes for a key (a pinyin syllable, an ARPAbet phoneme); raises PhonemeError."""
        phonemes = self.table(lang).entries.get(key)
        if phonemes is None:
            what = "syllable" if lang == "zh" else "phoneme"
            raise PhonemeError(
                f"the voice's {lang} dictionary has no {what} '{key}'; use a voice whose dictionary has it, "
                "or change the lyric"
            )
        return tuple(self.name(lang, p) for p in phonemes)

    def is_vowel(self, phoneme: str) -> bool:
        """Whether a voice phoneme is a vowel (a syllable nucleus)."""
        return phoneme in self._vowels

    def check(self, phonemes: Iterable[str]) -> None:
        """Raise PhonemeError naming the first phoneme this voice lacks."""
        for p in phonemes:
            if p not in self.inventory:
                raise PhonemeError(f"the voice has no phoneme '{p}'; use a voice whose dictionary has it")
