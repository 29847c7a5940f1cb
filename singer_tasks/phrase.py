"""The phrase: the unit the acoustic model renders, in openvpi's .ds segment structure.

A phrase is the contract between the two halves of the pipeline: parse + phonemize produce phrases,
acoustic + vocoder consume them. It is torch-free and music21-free so that anything may import it.
The .ds file (openvpi/DiffSinger's inference input) is a JSON list of segments whose sequences are
space-separated strings; `to_ds_segment`/`from_ds_segment` convert both ways.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_tasks.errors import PhraseFormatError

DEFAULT_F0_TIMESTEP_S = 0.005


@dataclass(frozen=True)
class Phrase:
    """One sung phrase between rests, timed from its own start.

    offset_s: where the phrase starts in the song (seconds).
    ph_seq / ph_dur_s: phonemes and their durations (seconds); they tile the phrase.
    ph_num: how many phonemes each word (note group) spans, openvpi's word division.
    note_seq: note names ("C#4") or "rest"; note_dur_s: their durations; note_slur: 1 for a note
    that continues the previous syllable (melisma).
    f0_hz: the pitch curve sampled every f0_timestep_s from the phrase start, 0 where unvoiced.
    lang: the language of the phrase's phonemes ("en", "zh"), for multilingual voices.
    """

    offset_s: float
    ph_seq: tuple[str, ...]
    ph_dur_s: tuple[float, ...]
    ph_num: tuple[int, ...]
    note_seq: tuple[str, ...]
    note_dur_s: tuple[float, ...]
    note_slur: tuple[int, ...]
    f0_hz: tuple[float, ...]
    f0_timestep_s: float = DEFAULT_F0_TIMESTEP_S
    lang: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.ph_seq) != len(self.ph_dur_s):
            raise PhraseFormatError(
                f"ph_seq has {len(self.ph_seq)} phonemes but ph_dur has {len(self.ph_dur_s)} durations"
            )
        if sum(self.ph_num) != len(self.ph_seq):
            raise PhraseFormatError(f"ph_num sums to {sum(self.ph_num)} but ph_seq has {len(self.ph_seq)} phonemes")
        if not (len(self.note_seq) == len(self.note_dur_s) == len(self.note_slur)):
            raise PhraseFormatError("note_seq, note_dur and note_slur must have the same length")
        if self.f0_timestep_s <= 0:
            raise PhraseFormatError(f"f0_timestep must be positive, got {self.f0_timestep_s}")
        if any(d < 0 for d in self.ph_dur_s):
            raise PhraseFormatError("ph_dur holds a negative duration")

    @property
    def duration_s(self) -> float:
        """Length of the phrase in seconds (the sum of its phoneme durations)."""
        return float(sum(self.ph_dur_s))

    def to_dict(self) -> dict[str, Any]:
        """The phrase as JSON-ready data, losslessly (floats keep every digit, unlike the .ds text)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)} | {"extra": dict(self.extra)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Phrase:
        """Inverse of `to_dict`."""
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**fields)

    def to_ds_segment(self) -> dict[str, Any]:
        """The phrase as one openvpi .ds segment (JSON-ready)."""
        segment: dict[str, Any] = {
            "offset": round(self.offset_s, 6),
            "ph_seq": " ".join(self.ph_seq),
            "ph_dur": _join_floats(self.ph_dur_s),
            "ph_num": " ".join(str(n) for n in self.ph_num),
            "note_seq": " ".join(self.note_seq),
            "note_dur": _join_floats(self.note_dur_s),
            "note_slur": " ".join(str(s) for s in self.note_slur),
            "f0_seq": _join_floats(self.f0_hz, digits=1),
            "f0_timestep": str(self.f0_timestep_s),
        }
        if self.lang is not None:
            segment["lang"] = self.lang
        for key, value in self.extra.items():
            segment.setdefault(key, value)
        return segment

    @classmethod
    def from_ds_segment(cls, segment: Mapping[str, Any]) -> Phrase:
        """Read one .ds segment; raises PhraseFormatError naming the missing or bad field."""
        known = {
            "offset", "ph_seq", "ph_dur", "ph_num", "note_seq", "note_dur", "note_slur",
            "f0_seq", "f0_timestep", "lang",
        }  # fmt: skip
        try:
            return cls(
                offset_s=float(segment.get("offset", 0.0)),
                ph_seq=tuple(_split(segment, "ph_seq")),
                ph_dur_s=tuple(float(x) for x in _split(segment, "ph_dur")),
                ph_num=tuple(int(x) for x in _split(segment, "ph_num")),
                note_seq=tuple(_split(segment, "note_seq")),
                note_dur_s=tuple(float(x) for x in _split(segment, "note_dur")),
                note_slur=tuple(int(x) for x in _split(segment, "note_slur")),
                f0_hz=tuple(float(x) for x in _split(segment, "f0_seq")),
                f0_timestep_s=float(segment.get("f0_timestep", DEFAULT_F0_TIMESTEP_S)),
                lang=segment.get("lang"),
                extra={k: v for k, v in segment.items() if k not in known},
            )
        except (TypeError, ValueError) as e:
            if isinstance(e, PhraseFormatError):
                raise
            raise PhraseFormatError(f"malformed .ds segment: {e}") from e


def dumps_ds(phrases: Iterable[Phrase]) -> str:
    """Serialise phrases as a .ds file (a JSON list of segments)."""
    return json.dumps([p.to_ds_segment() for p in phrases], ensure_ascii=False, indent=2)


def loads_ds(text: str) -> list[Phrase]:
    """Parse a .ds file; a single segment object is accepted too, as openvpi does."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise PhraseFormatError(f"not a .ds file (invalid JSON): {e}") from e
    segments = data if isinstance(data, list) else [data]
    if not all(isinstance(s, dict) for s in segments):
        raise PhraseFormatError("a .ds file is a JSON list of segment objects")
    return [Phrase.from_ds_segment(s) for s in segments]


def _split(segment: Mapping[str, Any], key: str) -> list[str]:
    if key not in segment:
        raise PhraseFormatError(f".ds segment lacks '{key}'")
    value = segment[key]
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value).split()


def _join_floats(values: Iterable[float], digits: int = 6) -> str:
    return " ".join(f"{v:.{digits}f}".rstrip("0").rstrip(".") if v else "0" for v in values)
