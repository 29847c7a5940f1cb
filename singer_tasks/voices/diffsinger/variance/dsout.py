"""Predictions -> a .ds segment, formatted as openvpi's ds_variance writes them back.

A copy of the segment gets `ph_dur` (seconds, 6 decimals; only when durations were predicted), `f0_seq`
(Hz, 1 decimal) with `f0_timestep`, and each variance curve (4 decimals) with `<name>_timestep`. Numbers are
Python's round() of the float32 (f0, curves) or float64 (durations) values, printed with str(), as openvpi.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np
from torch import Tensor

from singer_tasks.voices.diffsinger.variance.model import VariancePrediction


def midi_to_hz(midi: np.ndarray) -> np.ndarray:
    """librosa.midi_to_hz in the input's precision (float32 stays float32, as openvpi's output)."""
    return 440.0 * (2.0 ** ((midi - 69.0) / 12.0))


def _row(t: Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().reshape(-1)


def write_predictions(
    segment: Mapping[str, Any],
    timestep: float,
    *,
    ph_dur: Tensor | None = None,
    pitch_midi: Tensor | None = None,
    variances: Mapping[str, Tensor] | None = None,
) -> dict[str, Any]:
    """A copy of `segment` with the given predictions written in: ph_dur frames [1, N], pitch_midi [1, T],
    variance curves [1, T]."""
    out = copy.deepcopy(dict(segment))
    if ph_dur is not None:
        seconds = _row(ph_dur).astype(np.int64) * timestep  # float64 seconds
        out["ph_dur"] = " ".join(str(round(d, 6)) for d in seconds.tolist())
    if pitch_midi is not None:
        f0 = midi_to_hz(_row(pitch_midi))
        out["f0_seq"] = " ".join(str(round(f, 1)) for f in f0.tolist())
        out["f0_timestep"] = str(timestep)
    for name, curve in (variances or {}).items():
        out[name] = " ".join(str(round(v, 4)) for v in _row(curve).tolist())
        out[f"{name}_timestep"] = str(timestep)
    return out


def write_back(segment: Mapping[str, Any], prediction: VariancePrediction, timestep: float) -> dict[str, Any]:
    """The segment as openvpi writes it after predicting everything: durations only where they were
    predicted (given ones are kept as written), pitch and every predicted curve."""
    return write_predictions(
        segment,
        timestep,
        ph_dur=prediction.ph_dur if prediction.ph_dur_raw is not None else None,
        pitch_midi=prediction.pitch_midi,
        variances=prediction.variances,
    )
