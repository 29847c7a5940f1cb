"""Phoneme, language and speaker tables, and the dictionaries (dsdict.yaml, dictionary.txt) of a voicebank.

Formats follow OpenUtau's DiffSingerUtils / G2pDictionary: a phonemes file ending in .json is {name: id}, any
other is one phoneme per line with id = line index; languages are JSON {language: id}; a speaker ``x`` is the file
``x.emb`` holding `hidden_size` float32 little-endian values; dsdict.yaml has ``symbols`` [{symbol, type}] and
``entries`` [{grapheme, phonemes}], and SP and AP always count as vowels.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from singer_tasks.errors import VoiceConfigError
from singer_tasks.voices.voicebank.config import read_yaml_mapping

GLIDE_TYPES = ("semivowel", "liquid")
PAUSES = ("SP", "AP")


def resolve_in(folder: Path, name: str, config: Path, key: str, root: Path) -> Path:
    """A file named by `key` of `config`, relative to its folder; refused when missing or outside the bank `root`."""
    target = (folder / name).resolve()
    if not target.is_relative_to(root.resolve()):
        raise VoiceConfigError(f"{config}: key {key!r} points outside the voicebank: {name!r}")
    if not target.is_file():
        raise VoiceConfigError(f"{config}: key {key!r} names {name!r}, but {folder / name} is missing")
    return target


def _read_json_ids(path: Path, config: Path, key: str) -> dict[str, int]:
    """A JSON object of name -> non-negative int id."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise VoiceConfigError(f"{path} (key {key!r} of {config}): not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in data.values()
    ):
        raise VoiceConfigError(f"{path} (key {key!r} of {config}): expected a JSON object of name -> id (int >= 0)")
    return {str(k): int(v) for k, v in data.items()}


def load_phonemes(path: Path, config: Path) -> dict[str, int]:
    """Phoneme -> token id, from .json or a text file (id = line index, as OpenUtau counts)."""
    if path.suffix.lower() == ".json":
        table = _read_json_ids(path, config, "phonemes")
    else:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        table = {line: i for i, line in enumerate(lines)}
    if "SP" not in table:
        # Every graph gets SP pads; a table without SP cannot be fed.
        raise VoiceConfigError(f"{path} (key 'phonemes' of {config}): the phoneme 'SP' is missing")
    return table


def load_languages(path: Path, config: Path) -> dict[str, int]:
    """Language -> id (JSON)."""
    return _read_json_ids(path, config, "languages")


def load_speaker_embeds(folder: Path, speakers: Sequence[str], hidden_size: int, config: Path) -> NDArray[np.float32]:
    """[S, hidden_size] float32: row i is speakers[i]'s `.emb` file (float32, little-endian)."""
    rows = []
    for i, speaker in enumerate(speakers):
        path = folder / f"{speaker}.emb"
        if not path.is_file():
            raise VoiceConfigError(f"{config}: key 'speakers[{i}]' = {speaker!r}, but {path} is missing")
        raw = path.read_bytes()
        if len(raw) != 4 * hidden_size:
            raise VoiceConfigError(
                f"{path}: holds {len(raw)} bytes, key 'hidden_size' of {config} implies {4 * hidden_size}"
            )
        rows.append(np.frombuffer(raw, dtype="<f4").astype(np.float32))
    return np.stack(rows) if rows else np.zeros((0, hidden_size), np.float32)


@dataclass(frozen=True)
class DsDict:
    """dsdict.yaml: symbol types (vowel / glide knowledge for word division) and grapheme entries."""

    path: Path
    types: dict[str, str]
    entries: dict[str, tuple[str, ...]]

    def is_valid(self, symbol: str) -> bool:
        """Whether the symbol has a type (OpenUtau refuses phrases with untyped symbols)."""
        return symbol in self.types or symbol in PAUSES

    def is_vowel(self, symbol: str) -> bool:
        """Vowel per its type; SP and AP always count as vowels."""
        return symbol in PAUSES or self.types.get(symbol) == "vowel"

    def is_glide(self, symbol: str) -> bool:
        """Semivowel or liquid."""
        return self.types.get(symbol) in GLIDE_TYPES


def _list_of_maps(path: Path, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise VoiceConfigError(f"{path}: key {key!r} must be a list of mappings")
    return value


def load_dsdict(path: Path) -> DsDict:
    """Read one dsdict.yaml or dsdict-<lang>.yaml (one of them is required beside every dsdur/dspitch/dsvariance
    config; `loader` types a folder's symbols from all of them)."""
    data = read_yaml_mapping(path)
    types: dict[str, str] = {}
    for i, item in enumerate(_list_of_maps(path, data, "symbols")):
        symbol, kind = item.get("symbol"), item.get("type")
        if not isinstance(symbol, str) or not isinstance(kind, str):
            raise VoiceConfigError(f"{path}: key 'symbols[{i}]' needs str 'symbol' and 'type', got {item!r}")
        types[symbol] = kind
    entries: dict[str, tuple[str, ...]] = {}
    for i, item in enumerate(_list_of_maps(path, data, "entries")):
        grapheme, phonemes = item.get("grapheme"), item.get("phonemes")
        if not isinstance(grapheme, str | int) or not (
            isinstance(phonemes, list) and all(isinstance(p, str) for p in phonemes)
        ):
            raise VoiceConfigError(f"{path}: key 'entries[{i}]' needs 'grapheme' and a list of str 'phonemes'")
        entries[str(grapheme)] = tuple(phonemes)
    return DsDict(path=path, types=types, entries=entries)


def load_dictionary_txt(path: Path) -> dict[str, tuple[str, ...]]:
    """dictionary.txt: `syllable<TAB>phoneme phoneme ...` lines (blank lines skipped)."""
    table: dict[str, tuple[str, ...]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        syllable, sep, phonemes = line.partition("\t")
        if not sep or not phonemes.split():
            raise VoiceConfigError(f"{path}: line {n} is not 'syllable<TAB>phonemes': {line!r}")
        table[syllable] = tuple(phonemes.split())
    return table
