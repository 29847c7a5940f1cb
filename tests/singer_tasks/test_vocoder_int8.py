"""The vocoder's int8 network (ONNX Runtime, int8 convolutions): within the fast mode's waveform SNR of
float32 on the reference vocoders and at openvpi's default size, really quantized, built once and then
read from the disk cache, and refused where the network draws noise itself. No timing here
(benchmarks/bench_fast.py prints the figures)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from benchmarks.bench_voices import DEFAULT_VOCODER, _save_vocoder
from singer_tasks.voices.mel import mel_spectrogram
from singer_tasks.voices.models import vocoder_network
from singer_tasks.voices.vocoder import int8
from singer_tasks.voices.vocoder.load import load_vocoder
from singer_tasks.voices.vocoder.nsf_hifigan import Generator

FIXTURES = Path(__file__).parent / "fixtures" / "openvpi"
SNR_DB = 30.0


def _snr_db(reference: torch.Tensor, other: torch.Tensor) -> float:
    err = (reference.double() - other.double()).pow(2).sum().clamp_min(1e-30)
    return float(10 * torch.log10(reference.double().pow(2).sum() / err))


def _sung_mel(vocoder: Generator, frames: int, base_hz: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A mel and f0 of a gliding harmonic tone (not one of the calibration tones)."""
    hop, rate = vocoder.config.mel.hop_size, vocoder.config.mel.sample_rate
    f0 = base_hz * 2 ** (torch.sin(torch.arange(frames) / 25.0)[None] / 4)
    phase = 2 * math.pi * torch.cumsum(f0.repeat_interleave(hop, dim=1)[0].double(), 0) / rate
    wave = sum(torch.sin(k * phase) / k**1.1 for k in range(1, 40))
    assert isinstance(wave, torch.Tensor)
    wave = (0.4 * wave / wave.abs().max()).float()
    return mel_spectrogram(wave, vocoder.config.mel)[None, :, :frames], f0


def _both(
    vocoder: Generator, mel: torch.Tensor, f0: torch.Tensor, network: int8.Int8Network
) -> tuple[torch.Tensor, ...]:
    with torch.inference_mode():
        exact = vocoder(mel, f0, generator=torch.Generator().manual_seed(1))
        quantized = vocoder(mel, f0, generator=torch.Generator().manual_seed(1), network=network)
    return exact, quantized


@pytest.mark.parametrize("name", ["voc-classic", "voc-mini"])
def test_int8_vocoder_within_tolerance_on_the_references(name: str, tmp_path: Path) -> None:
    vocoder = load_vocoder(FIXTURES / name / "model.ckpt")
    case = torch.load(FIXTURES / name / "case.pt", weights_only=True)
    network = int8.int8_network(vocoder, tmp_path, threads=1)
    kernels = int8.describe(network)
    assert "QLinearConv" in kernels and not kernels.startswith("0 ")
    assert ", 2 fp32 Conv (conv_pre, conv_post)" in kernels  # the sensitive ends stay float
    exact, quantized = _both(vocoder, case["mel"], case["f0"], network)
    assert quantized.shape == exact.shape and not torch.equal(quantized, exact)  # int8 really ran
    assert _snr_db(exact, quantized) >= SNR_DB
    # A phrase long enough for chunks takes the same network per chunk.
    exact, quantized = _both(vocoder, case["mel"].repeat(1, 1, 5), case["f0"].repeat(1, 5), network)
    assert quantized.shape == exact.shape and _snr_db(exact, quantized) >= SNR_DB


@pytest.mark.parametrize("seed", [0, 5])  # 5: a vocoder at 28.4 dB while every upsampling layer was int8
def test_int8_vocoder_within_tolerance_at_default_size(tmp_path: Path, seed: int) -> None:
    torch.manual_seed(seed)
    vocoder = load_vocoder(_save_vocoder({**DEFAULT_VOCODER, "mini_nsf": True}, tmp_path))
    network = int8.int8_network(vocoder, tmp_path / "cache", threads=2)
    mel, f0 = _sung_mel(vocoder, 200, base_hz=150.0)
    exact, quantized = _both(vocoder, mel, f0, network)
    assert _snr_db(exact, quantized) >= SNR_DB


def test_built_once_then_read_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = FIXTURES / "voc-mini" / "model.ckpt"
    first = int8.int8_network(load_vocoder(path), tmp_path, threads=1)
    assert first.model_path.parent == tmp_path and first.model_path.is_file()
    assert [p.name for p in tmp_path.iterdir()] == [first.model_path.name]  # no temporary left behind

    def no_build(*_: object) -> None:
        raise AssertionError("rebuilt although the cache holds it")

    monkeypatch.setattr(int8, "build", no_build)
    fresh = load_vocoder(path)  # another process loading the same voice
    again = int8.int8_network(fresh, tmp_path, threads=1)
    assert again.model_path == first.model_path
    assert int8.int8_network(fresh, tmp_path, threads=1) is again  # kept per vocoder
    changed = load_vocoder(path)
    with torch.no_grad():
        changed.conv_post.bias.add_(0.01)
    assert int8.weights_key(changed) != int8.weights_key(fresh)
    with pytest.raises(AssertionError, match="rebuilt"):
        int8.int8_network(changed, tmp_path, threads=1)


def test_a_vocoder_with_inner_noise_stays_float() -> None:
    vocoder = load_vocoder(FIXTURES / "voc-mini" / "model.ckpt")
    assert int8.supported(vocoder) and vocoder_network(vocoder, "fp32") is None
    vocoder.config = dataclasses.replace(vocoder.config, noise_sigma=0.05)
    assert not int8.supported(vocoder) and vocoder_network(vocoder, "int8") is None
    case = torch.load(FIXTURES / "voc-mini" / "case.pt", weights_only=True)
    with pytest.raises(ValueError, match="noise_sigma"), torch.inference_mode():
        vocoder(case["mel"], case["f0"], network=lambda mel, source: mel)


def test_calibration_tones_follow_the_vocoder_settings() -> None:
    vocoder = load_vocoder(FIXTURES / "voc-classic" / "model.ckpt")
    samples = int8.calibration_inputs(vocoder, seconds=0.5)
    hop, upp = vocoder.config.mel.hop_size, vocoder.upp
    assert len(samples) >= 5
    for sample in samples:
        mel, source = sample["mel"], sample["source"]
        frames = mel.shape[2]
        assert mel.shape[:2] == (1, vocoder.config.mel.n_mels) and frames == int(
            0.5 * vocoder.config.mel.sample_rate / hop
        )
        assert source.shape == (1, 1, frames * upp)
    levels = sorted(float(s["mel"].max()) for s in samples)
    assert levels[-1] - levels[0] > 5  # quiet to loud, not one level


def test_a_damaged_cached_model_is_built_again(tmp_path: Path) -> None:
    path = FIXTURES / "voc-mini" / "model.ckpt"
    built = int8.int8_network(load_vocoder(path), tmp_path, threads=1).model_path
    good = built.read_bytes()
    built.write_bytes(good[: len(good) // 3])  # a cut copy
    vocoder = load_vocoder(path)
    network = int8.int8_network(vocoder, tmp_path, threads=1)  # not an error: built again
    assert network.model_path == built and built.read_bytes() != good[: len(good) // 3]
    case = torch.load(FIXTURES / "voc-mini" / "case.pt", weights_only=True)
    exact, quantized = _both(vocoder, case["mel"], case["f0"], network)
    assert _snr_db(exact, quantized) >= SNR_DB
