"""Phrase -> acoustic model inputs, checked against openvpi's frame and curve formulas."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from singer_tasks.errors import RenderInputError
from singer_tasks.phrase import Phrase
from singer_tasks.voices.diffsinger.acoustic.inputs import Curve, phrase_inputs, phrase_mel2ph, resample_curve
from singer_tasks.voices.diffsinger.acoustic.load import read_config
from singer_tasks.voices.diffsinger.acoustic.phonemes import PhonemeDictionary

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


def test_multilingual_dictionary_and_language_embedding(tmp_path: Path) -> None:
    from singer_tasks.voices.diffsinger.acoustic.config import AcousticConfig
    from singer_tasks.voices.diffsinger.acoustic.model import DiffSingerAcoustic

    (tmp_path / "zh.txt").write_text("a\ta\nba\tb a\n")
    (tmp_path / "en.txt").write_text("aa\taa\nb\tb\n")
    dictionary = PhonemeDictionary.read({"zh": tmp_path / "zh.txt", "en": tmp_path / "en.txt"})
    assert dictionary.phonemes == ("AP", "SP", "en/aa", "en/b", "zh/a", "zh/b")
    config = AcousticConfig.from_dict({
        "hidden_size": 16, "enc_layers": 1, "use_lang_id": True, "num_lang": 2, "use_spk_id": True, "num_spk": 2,
        "use_mix_ln": True, "diffusion_type": "reflow", "backbone_type": "lynxnet2",
        "backbone_args": {"num_channels": 8, "num_layers": 1},
    })  # fmt: skip
    phrase = Phrase(0.0, ("SP", "b", "a", "en/aa"), (0.1, 0.1, 0.2, 0.2), (1, 3), ("rest", "A3"), (0.1, 0.5), (0, 0),
                    (220.0,) * 120, lang="zh")  # fmt: skip
    inputs = phrase_inputs(phrase, config, dictionary, spk_id=1)
    assert inputs.tokens.tolist() == [[2, 6, 5, 3]]  # SP, zh/b, zh/a, en/aa
    assert inputs.languages is not None and inputs.languages.tolist() == [[0, 0, 0, 0]]
    mel = DiffSingerAcoustic(config, dictionary.vocab_size).eval().render(inputs, steps=2).mel
    assert mel.shape == (1, inputs.mel2ph.shape[1], 128) and torch.isfinite(mel).all()
