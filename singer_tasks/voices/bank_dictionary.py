"""A voicebank's lyrics dictionaries as the phonemizer's `PhonemeDictionary` (torch- and onnxruntime-free).

Per language the bank has (see `bankinfo`), its dsdict (``dsdict-<lang>.yaml``, else the generic dsdict.yaml,
else dictionary.txt) becomes one table:

- ja: romaji morae -> phonemes, through `phonemize.japanese.japanese_table` (vowels from the dsdict's symbol
  types);
- en: the phonemizer looks English up by ARPAbet phoneme, so each ARPAbet phoneme maps to the dsdict's
  ``replacements`` entry for it, else to itself when the bank has that symbol (OpenUtau's English DiffSinger
  phonemizer does the same);
- zh and others: grapheme (toneless pinyin) -> phonemes, vowels from the symbol types.

A multilingual bank (``use_lang_id`` and several languages) gets a prefixed dictionary: phonemes are named
``lang/phoneme`` as openvpi names them, and the voice resolves them to the bank's own names and language ids.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from singer_tasks.errors import DictionaryError
from singer_tasks.phonemize.dictionary import (
    ARPABET_VOWELS,
    BUILTIN_FILES,
    LanguageTable,
    PhonemeDictionary,
    phonemes_dir,
)
from singer_tasks.phonemize.japanese import japanese_table
from singer_tasks.voices.bankinfo import BankFiles, BankInfo


def _strip(lang: str, phoneme: str) -> str:
    return phoneme[len(lang) + 1 :] if phoneme.startswith(f"{lang}/") else phoneme


def _read(
    files: BankFiles, rel: str, lang: str
) -> tuple[dict[str, tuple[str, ...]], set[str], set[str], dict[str, str]]:
    """(entries, vowels, symbols, replacements) of one dictionary file, phonemes without `lang/` prefixes."""
    data = files.read(rel)
    if data is None:
        raise DictionaryError(f"{files.source}: dictionary {rel} is missing")
    text = data.decode("utf-8-sig")
    if not rel.endswith((".yaml", ".yml")):
        entries = {}
        for line in text.splitlines():
            key, sep, value = line.partition("\t")
            if sep and value.split():
                entries[key.strip()] = tuple(_strip(lang, p) for p in value.split())
        return entries, set(), set(), {}
    try:
        raw: Any = yaml.safe_load(text) or {}
        entries = {
            str(e["grapheme"]): tuple(_strip(lang, str(p)) for p in e["phonemes"])
            for e in raw.get("entries") or []
            if e.get("phonemes")
        }
        symbols = {_strip(lang, str(s["symbol"])): str(s.get("type", "")) for s in raw.get("symbols") or []}
        replacements = {str(r["from"]): _strip(lang, str(r["to"])) for r in raw.get("replacements") or []}
    except (yaml.YAMLError, KeyError, TypeError, AttributeError) as e:
        raise DictionaryError(f"{files.source}: cannot read {rel}: {e!r}") from e
    vowels = {s for s, kind in symbols.items() if kind == "vowel"}
    return entries, vowels, set(symbols), replacements


def _english(
    symbols: set[str], replacements: Mapping[str, str], entries: Mapping[str, tuple[str, ...]]
) -> LanguageTable:
    known = symbols | {p for phs in entries.values() for p in phs}
    arpabet = LanguageTable.load(phonemes_dir() / BUILTIN_FILES["en"], "en").entries
    table: dict[str, tuple[str, ...]] = {}
    for key in arpabet:
        if key in replacements:
            table[key] = tuple(replacements[key].split())
        elif key in known:
            table[key] = (key,)
    if not table:
        raise DictionaryError("the voicebank's English dictionary maps no ARPAbet phoneme to its own symbols")
    vowels = frozenset(table[v][-1] for v in ARPABET_VOWELS if v in table)
    return LanguageTable("en", table, vowels)


def _table(files: BankFiles, lang: str, rel: str) -> LanguageTable:
    entries, vowels, symbols, replacements = _read(files, rel, lang)
    if lang == "en":
        return _english(symbols, replacements, entries)
    if not entries:
        raise DictionaryError(f"{files.source}: {rel} has no entries")
    if lang == "ja":
        return japanese_table(entries, sorted(vowels) or None)
    return LanguageTable(lang, entries, frozenset(vowels) or frozenset(phs[-1] for phs in entries.values()))


@functools.lru_cache(maxsize=16)
def _cached(source: str, stamp: float, languages: tuple[str, ...], dictionaries: tuple[tuple[str, str], ...],
            prefixed: bool) -> PhonemeDictionary:  # fmt: skip
    files = BankFiles(Path(source))
    try:
        where = dict(dictionaries)
        tables = [_table(files, lang, where[lang]) for lang in languages if lang in where]
    finally:
        files.close()
    if not tables:
        raise DictionaryError(f"{source}: the voicebank has no dictionary (dsdict.yaml or dictionary.txt) to sing with")
    return PhonemeDictionary(tables, prefixed=prefixed)


def bank_dictionary(bank: BankInfo) -> PhonemeDictionary:
    """The phonemizer's dictionary for a voicebank (read once per bank version; treat it as read-only)."""
    stamp = bank.source.stat().st_mtime
    prefixed = bank.use_lang_id and len(bank.languages) > 1
    return _cached(str(bank.source), stamp, bank.languages, tuple(sorted(bank.dictionaries.items())), prefixed)
