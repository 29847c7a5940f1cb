"""Phrase -> acoustic model inputs, checked against openvpi's frame and curve formulas."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from singer_tasks.acoustic.inputs import Curve, phrase_inputs, phrase_mel2ph, resample_curve
from singer_tasks.acoustic.load import read_config
from singer_tasks.acoustic.phonemes import PhonemeDictionary
from singer_tasks.ds import Phrase
from singer_tasks.voice_errors import RenderInputError

FOLDER = Path(__file__).parent / "fixtures" / "openvpi" / "main-allembeds-rk4"
FRAME_S = 512 / 44100
CURVES = {"energy": -20.0, "breathiness": -60.0, "voicing": -15.0, "tension": 0.0, "key_shift": 0.0, "speed": 1.0}


def _phrase(f0: tuple[float, ...]) -> Phrase:
    return Phrase(0.0, ("SP", "b", "a", "AP"), (0.13, 0.071, 0.52, 0.2), (1, 2, 1), ("rest", "A3", "rest"),
                  (0.13, 0.591, 0.2), (0, 0, 0), f0)  # fmt: skip


def test_frames_follow_openvpi_rounding() -> None:
    durs = (0.13, 0.071, 0.52, 0.2)
    mel2ph = phrase_mel2ph(durs, FRAME_S)[0].numpy()
    ends = [math.floor(t / FRAME_S + 0.5 + 0.5) for t in np.cumsum(durs)]  # round(x + 0.5), no ties here
    assert len(mel2ph) == ends[-1]
    assert [int((mel2ph == i + 1).sum()) for i in range(4)] == list(np.diff([0, *ends]))
    assert list(mel2ph[:3]) == [1, 1, 1] and mel2ph[-1] == 4


def test_curves_are_resampled_linearly_and_padded() -> None:
    points = [100.0, 200.0, 300.0]
    out = resample_curve(points, 0.01, 0.004, 10)
    # openvpi's grid is arange(0, t_last, step) (t_last excluded); the rest repeats its last value.
    grid = [100 + 10000 * t for t in np.arange(5) * 0.004]
    expected = grid + [grid[-1]] * 5
    assert np.allclose(out, expected)
    assert np.allclose(resample_curve(points, 0.01, 0.004, 3), expected[:3])


def test_phrase_inputs_for_a_voice_with_every_embedding() -> None:
    config = read_config(FOLDER / "config.yaml")
    dictionary = PhonemeDictionary.read({"zh": FOLDER / "dictionary.txt"})
    f0 = tuple(np.linspace(200.0, 300.0, 185))
    curves = {**CURVES, "key_shift": Curve([9.0, 9.0], 0.5), "speed": 1.2}  # 9 semitones lies outside the trained +-5
    inputs = phrase_inputs(_phrase(f0), config, dictionary, curves=curves, spk_id=2)
    frames = inputs.mel2ph.shape[1]
    assert inputs.tokens.tolist() == [dictionary.encode(["SP", "b", "a", "AP"])]
    assert inputs.f0.shape == (1, frames)
    assert inputs.f0[0, 10].item() == pytest.approx(200.0 + 100.0 * (10 * FRAME_S) / (184 * 0.005), rel=1e-5)
    assert set(inputs.curves) == set(CURVES)
    assert inputs.curves["key_shift"].max().item() == 5.0  # clipped to the training range
    assert inputs.curves["speed"][0, 0].item() == pytest.approx(1.2)
    assert inputs.spk_id is not None and inputs.spk_id.tolist() == [2]


def test_bad_inputs_are_named() -> None:
    config = read_config(FOLDER / "config.yaml")
    dictionary = PhonemeDictionary.read({"zh": FOLDER / "dictionary.txt"})
    phrase = _phrase((220.0,) * 10)
    with pytest.raises(RenderInputError, match="'tension'"):
        phrase_inputs(phrase, config, dictionary, curves={k: v for k, v in CURVES.items() if k != "tension"})
    with pytest.raises(RenderInputError, match="speaker id 5"):
        phrase_inputs(phrase, config, dictionary, curves=CURVES, spk_id=5)
