"""NSF-HiFiGAN (classic and mini_nsf) against openvpi's zero-noise outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from singer_tasks.errors import CheckpointError, VoiceConfigError
from singer_tasks.voices.vocoder.config import VocoderConfig
from singer_tasks.voices.vocoder.load import fold_weight_norm, load_vocoder
from singer_tasks.voices.vocoder.nsf_hifigan import SourceNoise

FIXTURES = Path(__file__).parent / "fixtures" / "openvpi"


@pytest.mark.parametrize("name", ["voc-classic", "voc-mini"])
def test_reproduces_openvpi_waveform(name: str) -> None:
    folder = FIXTURES / name
    generator = load_vocoder(folder / "model.ckpt")
    assert generator.mini_nsf == (name == "voc-mini")
    case = torch.load(folder / "case.pt", weights_only=True)
    with torch.inference_mode():
        wav = generator(case["mel"], case["f0"], SourceNoise.zeros())
    assert wav.shape == case["wav_zero_noise"].shape == (1, 1, case["mel"].shape[2] * 512)
    assert (wav - case["wav_zero_noise"]).abs().max().item() <= 1e-4
    assert case["wav_zero_noise"].abs().max().item() > 0.05  # not a silent reference


def test_classic_source_randomness_is_drawn_by_default_and_can_be_supplied() -> None:
    folder = FIXTURES / "voc-classic"
    generator = load_vocoder(folder / "model.ckpt")
    case = torch.load(folder / "case.pt", weights_only=True)
    n = case["mel"].shape[2] * 512
    with torch.inference_mode():
        random = generator(case["mel"], case["f0"], generator=torch.Generator().manual_seed(1))
        supplied = generator(case["mel"], case["f0"], SourceNoise(torch.zeros(1, 1, 9), torch.zeros(1, n, 9)))
    assert (random - case["wav_zero_noise"]).abs().max().item() > 1e-3
    assert (supplied - case["wav_zero_noise"]).abs().max().item() <= 1e-4


def test_weight_norm_folding() -> None:
    v = torch.randn(4, 3, 5)
    g = torch.rand(4, 1, 1) + 0.5
    folded = fold_weight_norm({"conv.weight_g": g, "conv.weight_v": v, "conv.bias": torch.zeros(4)})
    assert set(folded) == {"conv.weight", "conv.bias"}
    norms = folded["conv.weight"].flatten(1).norm(dim=1)
    assert torch.allclose(norms, g.flatten(), atol=1e-6)
    with pytest.raises(CheckpointError, match="weight_v"):
        fold_weight_norm({"conv.weight_g": g})


def test_bad_vocoder_files(tmp_path: Path) -> None:
    folder = FIXTURES / "voc-mini"
    shutil.copy(folder / "model.ckpt", tmp_path / "model.ckpt")
    with pytest.raises(VoiceConfigError, match=r"config\.json"):
        load_vocoder(tmp_path / "model.ckpt")
    raw = json.loads((folder / "config.json").read_text())
    raw["upsample_initial_channel"] = 64
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="shapes"):
        load_vocoder(tmp_path / "model.ckpt")
    del raw["num_mels"]
    with pytest.raises(VoiceConfigError, match="num_mels"):
        VocoderConfig.from_dict(raw)
    (tmp_path / "model.ckpt").write_bytes((folder / "model.ckpt").read_bytes()[:1000])
    shutil.copy(folder / "config.json", tmp_path / "config.json")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_vocoder(tmp_path / "model.ckpt")
