"""The vocoder's network in int8: the fast path of CPUs with VNNI (and of those whose bf16 is slower).

NSF-HiFiGAN is nearly all convolution at high rates, compute-bound at float32's peak on a CPU; int8
convolutions (ONNX Runtime's QLinearConv, VNNI kernels) do about 2.4 times the work per second (measured
on a Zen 4, default size: float32 1.64 s for 5 s of audio, bf16 0.82 s, int8 0.68 s). torch's own int8
convolutions quantize activations per call and came out slower and noisier, hence ONNX Runtime here.

`Int8Network` replaces the generator's network (`Generator.network`: mel and source signal in, waveform
out); the source signal (sines, noise) stays in torch on the host, so a seed gives the same excitation.
It is built once per vocoder: ranges of every quantized activation are calibrated (min/max) on the float
network, fed mels of synthetic sung tones (several pitches and loudness levels, breath noise, silence)
made with the vocoder's own mel settings and sung with its own source, so no voice data is needed; then
`int8_graph` writes the network as a channels-last ONNX graph of int8 convolutions (weights one scale
per output channel), the transposed ones included, with conv_pre, conv_post and the residual stream in
float. The result is kept on disk under a key of the weights and this recipe, so a worker builds it once
(about 10 s at the default size; `python -m singer_tasks voices prepare` at image build).
Measured at openvpi's default size (Zen 4, 2 threads, 10 s phrase): 1.05 s against 1.41 s for ONNX
Runtime's own quantizer on the exported network (the earlier recipe) and 3.3 s in float32; waveform SNR
against float32 38 dB (pc-nsf) and 55 dB (classic source) on a sung tone, 45 dB on a random acoustic
model's mel (the fast mode's bar is 30 dB).

A vocoder with `noise_sigma` > 0 draws noise inside its network; it keeps float32 (`supported`).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch

from singer_tasks.voices.onnx_cache import OnnxSession, cached_session, weights_digest
from singer_tasks.voices.vocoder.int8_graph import build_graph, graph_supported, record_ranges
from singer_tasks.voices.vocoder.nsf_hifigan import Generator, SourceNoise

RECIPE = "int8-nhwc-polyphase-minmax-v4-float-small-fan-in"  # part of the cache key: change it when the recipe changes
_LOCK = threading.Lock()


def supported(vocoder: Generator) -> bool:
    """True when the network can run in int8: on the CPU, no noise drawn inside it, and a layout the int8
    graph writes (`int8_graph.graph_supported`; every openvpi configuration)."""
    on_cpu = all(p.device.type == "cpu" for p in vocoder.parameters())
    return on_cpu and vocoder.config.noise_sigma <= 0 and graph_supported(vocoder)


class Int8Network(OnnxSession):
    """The generator's network (mel [B, M, T], channels-last source [B, 1, 1, N]) -> waveform [B, 1, T * hop]
    in an ONNX Runtime session with int8 convolutions."""

    def __call__(self, mel: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        return self.run(mel=mel, source=source.reshape(source.shape[0], 1, -1))


def int8_network(vocoder: Generator, cache_dir: Path, threads: int) -> Int8Network:
    """The int8 network of `vocoder`, from the disk cache or built there (once per process and vocoder)."""
    cached: Int8Network | None = getattr(vocoder, "_int8_network", None)
    if cached is not None:
        return cached
    with _LOCK:
        cached = getattr(vocoder, "_int8_network", None)
        if cached is None:
            path = cache_dir / f"vocoder-{weights_key(vocoder)}.onnx"
            cached = cached_session(Int8Network, path, lambda scratch, target: build(vocoder, scratch, target), threads)
            object.__setattr__(vocoder, "_int8_network", cached)  # not a submodule: no state-dict entry
        return cached


def weights_key(vocoder: Generator) -> str:
    """A digest of the vocoder's config, weights and this recipe (and the runtime versions that build it)."""
    return weights_digest(RECIPE, sorted(vars(vocoder.config).items()), vocoder.state_dict().items())


def build(vocoder: Generator, scratch: Path, target: Path) -> None:
    """Calibrate the network of `vocoder` on `calibration_inputs` and write its int8 graph into `target`
    (`int8_graph`: channels-last int8 convolutions, the transposed ones in polyphase form)."""
    del scratch  # the graph is written directly; nothing intermediate to keep
    samples = [(torch.from_numpy(s["mel"]), torch.from_numpy(s["source"])) for s in calibration_inputs(vocoder)]
    build_graph(vocoder, record_ranges(vocoder, samples), target)


def calibration_inputs(vocoder: Generator, seconds: float = 1.5) -> list[dict[str, np.ndarray]]:
    """(mel, source) pairs of synthetic sung tones in the vocoder's mel settings: pitches across a singer's
    range, quiet to loud, with vibrato, plus breath noise and silence; each sung with the vocoder's source."""
    from singer_tasks.voices.mel import mel_spectrogram

    mel_config = vocoder.config.mel
    rate, hop = mel_config.sample_rate, mel_config.hop_size
    frames = int(seconds * rate / hop)
    n = frames * hop
    rng = np.random.default_rng(0)
    t = np.arange(n) / rate
    cases: list[tuple[np.ndarray, np.ndarray]] = []
    for base, level in ((110.0, 0.9), (196.0, 0.3), (330.0, 0.6), (523.0, 0.1), (784.0, 0.5)):
        f0 = base * 2 ** (0.015 * np.sin(2 * np.pi * 5.5 * t))  # vibrato
        phase = 2 * np.pi * np.cumsum(f0) / rate
        harmonics = range(1, int(rate / 2 / (base * 1.03)))
        wave = sum(np.sin(k * phase) / k**1.2 for k in harmonics)
        wave = level * wave / np.abs(wave).max() + 0.002 * rng.standard_normal(n)
        cases.append((wave, f0[::hop][:frames]))
    breath = 0.05 * rng.standard_normal(n)
    cases.append((breath, np.zeros(frames)))
    cases.append((1e-4 * rng.standard_normal(n), np.zeros(frames)))
    inputs = []
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for wave, f0 in cases:
            mel = mel_spectrogram(torch.from_numpy(wave.astype(np.float32)), mel_config)[None, :, :frames]
            f0_t = torch.from_numpy(f0.astype(np.float32))[None]
            source = vocoder.source_signal(f0_t, SourceNoise(), generator)
            inputs.append({"mel": mel.numpy().copy(), "source": source.reshape(1, 1, -1).numpy().copy()})
    return inputs


def describe(network: OnnxSession) -> str:
    """A line for the bench: which kernels the int8 network runs."""
    kinds = network.op_counts()
    return (
        f"{kinds.get('QLinearConv', 0)} QLinearConv (int8, per-channel weights, channels-last; the upsampling "
        f"ones polyphase), {kinds.get('MatMul', 0)} fp32 polyphase upsampling MatMul (small fan-in), "
        f"{kinds.get('Conv', 0)} fp32 Conv (conv_pre, conv_post)"
    )
