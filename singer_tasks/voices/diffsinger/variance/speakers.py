"""Speaker mixes of a multi-speaker variance model, as openvpi's `load_speaker_mix` reads them from a segment.

A mix maps speaker names (keys of the experiment's spk_map.json) to a proportion: a number (static) or,
in a dynamic mix, a string of numbers (one per token for the token-level `ph_spk_mix`; a curve sampled every
`spk_mix_timestep` seconds for the frame-level `spk_mix`). Proportions are normalised to sum to 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from singer_tasks.errors import PhraseFormatError
from singer_tasks.voices.diffsinger.acoustic.inputs import resample_curve

SpeakerMix = Mapping[str, float | str]


@dataclass(frozen=True)
class MixTensors:
    """ids int64 [1, 1, S] (speaker ids), values float32 [1, 1 or L, S] (per token/frame, sum 1)."""

    ids: Tensor
    values: Tensor


def _proportions(name: str, value: float | str, field: str) -> float | np.ndarray:
    if isinstance(value, str):
        try:
            points = np.array(value.split(), np.float32)
        except ValueError as e:
            raise PhraseFormatError(f"{field}[{name!r}] holds something other than numbers: {e}") from e
        if points.size == 0:
            raise PhraseFormatError(f"{field}[{name!r}] is empty")
        return points
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PhraseFormatError(f"{field}[{name!r}] must be a number or a string of numbers, got {value!r}")
    return float(value)


def mix_tensors(
    mix: SpeakerMix | None,
    spk_map: Mapping[str, int],
    *,
    level: str,
    length: int,
    timestep: float,
    mix_timestep: float | None = None,
) -> MixTensors:
    """Tensors of one mix; `level` is "token" (length = tokens) or "frame" (length = frames of `timestep`).

    No mix selects the only speaker of a single-speaker map and is an error otherwise.
    """
    field = "ph_spk_mix" if level == "token" else "spk_mix"
    if not mix:
        if len(spk_map) != 1:
            raise PhraseFormatError(
                f"this is a multi-speaker model ({sorted(spk_map)}): the segment needs a {field} (or pass speakers=...)"
            )
        mix = {next(iter(spk_map)): 1.0}
    unknown = sorted(set(mix) - set(spk_map))
    if unknown:
        raise PhraseFormatError(f"{field} names speakers {unknown} the voice does not have ({sorted(spk_map)})")
    parsed = {name: _proportions(name, value, field) for name, value in mix.items()}
    ids = torch.tensor([spk_map[name] for name in parsed], dtype=torch.long)[None, None]  # (1, 1, S)
    if not any(isinstance(v, np.ndarray) for v in parsed.values()):
        values = torch.tensor([float(v) for v in parsed.values()], dtype=torch.float32)[None, None]  # (1, 1, S)
        if (values < 0).any():
            raise PhraseFormatError(f"{field} has a negative proportion")
        total = values.sum()
        if total <= 0:
            raise PhraseFormatError(f"{field} proportions sum to zero")
        return MixTensors(ids, values / total)
    columns = [
        _column(name, value, field, level=level, length=length, timestep=timestep, mix_timestep=mix_timestep)
        for name, value in parsed.items()
    ]
    values = torch.stack(columns, dim=2)  # (1, L, S)
    total = values.sum(dim=2, keepdim=True)
    if (total <= 0).any():
        raise PhraseFormatError(f"{field} proportions sum to zero on some {level}s")
    return MixTensors(ids, values / total)


def _column(
    name: str,
    value: float | np.ndarray,
    field: str,
    *,
    level: str,
    length: int,
    timestep: float,
    mix_timestep: float | None,
) -> Tensor:
    """One speaker's proportions over a dynamic mix's tokens or frames [1, L]."""
    if isinstance(value, float):
        column = torch.full((1, length), value, dtype=torch.float32)
    elif level == "token":
        if value.size != length:
            raise PhraseFormatError(f"{field}[{name!r}] has {value.size} values for {length} tokens")
        column = torch.from_numpy(value)[None]
    else:
        if mix_timestep is None:
            raise PhraseFormatError("a dynamic spk_mix needs spk_mix_timestep")
        column = torch.from_numpy(resample_curve(value.tolist(), mix_timestep, timestep, length))[None]
    if (column < 0).any():
        raise PhraseFormatError(f"{field}[{name!r}] has negative proportions")
    return column


def mix_embedding(table: Tensor, mix: MixTensors) -> Tensor:
    """The mixed speaker embedding [1, 1 or L, H]: sum over S of table[id] * value (table [num_spk, H])."""
    return torch.sum(table[mix.ids] * mix.values[..., None], dim=2)  # (1, 1, S, H) * (1, L, S, 1)
