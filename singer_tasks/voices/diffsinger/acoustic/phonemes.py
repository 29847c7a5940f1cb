"""openvpi's phoneme dictionary: phoneme ids are the sorted phoneme set (with AP, SP) counted from 1.

A dictionary file holds `syllable<TAB>phoneme phoneme ...` lines. With several languages, phonemes
are tagged `lang/phoneme` (AP, SP and extra phonemes stay global), as openvpi does. Merged phoneme
groups (shared ids across languages) are not supported and are refused with a clear message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from singer_tasks.errors import PhonemeError, VoiceConfigError

PAD_INDEX = 0


class PhonemeDictionary:
    """Maps phonemes (optionally per language) to openvpi token ids."""

    def __init__(self, syllables: Mapping[str, Mapping[str, tuple[str, ...]]], extra_phonemes: Iterable[str] = ()):
        self.syllables = {lang: dict(table) for lang, table in syllables.items()}
        self.multi_lang = len(self.syllables) > 1
        phonemes = {"AP", "SP", *extra_phonemes}
        for lang, table in self.syllables.items():
            for parts in table.values():
                for ph in parts:
                    if ph not in phonemes:
                        phonemes.add(f"{lang}/{ph}" if self.multi_lang else ph)
        self.phonemes: tuple[str, ...] = tuple(sorted(phonemes))
        self._ids = {ph: i for i, ph in enumerate(self.phonemes, start=1)}

    @classmethod
    def read(cls, paths: Mapping[str, Path], extra_phonemes: Iterable[str] = ()) -> PhonemeDictionary:
        """Read one dictionary file per language; raises VoiceConfigError naming a bad file or line."""
        tables: dict[str, dict[str, tuple[str, ...]]] = {}
        for lang, path in paths.items():
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError as e:
                raise VoiceConfigError(f"phoneme dictionary {path} does not exist") from e
            table: dict[str, tuple[str, ...]] = {}
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                fields = line.strip().split("\t")
                if len(fields) != 2 or not fields[1].split():
                    raise VoiceConfigError(f"{path} line {number}: expected 'syllable<TAB>phonemes', got {line!r}")
                if "/" in fields[1]:
                    raise VoiceConfigError(f"{path} line {number}: phonemes may not contain '/'")
                table[fields[0]] = tuple(fields[1].split())
            tables[lang] = table
        return cls(tables, extra_phonemes)

    @property
    def vocab_size(self) -> int:
        """Number of embedding rows (phonemes + padding)."""
        return len(self.phonemes) + 1

    def token_id(self, phoneme: str, lang: str | None = None) -> int | None:
        """The id of a phoneme (`lang/ph` tags accepted), or None when unknown."""
        if "/" in phoneme:
            lang, phoneme = phoneme.split("/", 1)
        if phoneme in self._ids:
            return self._ids[phoneme]
        if self.multi_lang and lang is not None:
            return self._ids.get(f"{lang}/{phoneme}")
        return None

    def encode(self, phonemes: Iterable[str], lang: str | None = None) -> list[int]:
        """Token ids; raises PhonemeError naming every phoneme the dictionary lacks."""
        seq = list(phonemes)
        ids = [self.token_id(ph, lang) for ph in seq]
        unknown = sorted({ph for ph, i in zip(seq, ids, strict=True) if i is None})
        if unknown:
            raise PhonemeError(
                f"the voice's phoneme dictionary lacks {unknown}"
                + (f" (language {lang!r})" if lang else "")
                + f"; it knows {len(self.phonemes)} phonemes such as {list(self.phonemes[:8])}"
            )
        return [i for i in ids if i is not None]
