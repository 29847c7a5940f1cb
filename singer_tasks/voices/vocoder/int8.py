"""The vocoder's network in int8: the fast path of CPUs with VNNI (and of those whose bf16 is slower).

NSF-HiFiGAN is nearly all convolution at high rates, compute-bound at float32's peak on a CPU; int8
convolutions (ONNX Runtime's QLinearConv, VNNI kernels) do about 2.4 times the work per second (measured
on a Zen 4, default size: float32 1.64 s for 5 s of audio, bf16 0.82 s, int8 0.68 s). torch's own int8
convolutions quantize activations per call and came out slower and noisier, hence ONNX Runtime here.

`Int8Network` replaces the generator's network (`Generator.network`: mel and source signal in, waveform
out); the source signal (sines, noise) stays in torch on the host, so a seed gives the same excitation.
It is built once per vocoder: the float32 network is exported to ONNX, every convolution but the first
and the last (`float_convs`) gets int8 weights (one scale per output channel) and int8 activations whose
ranges are calibrated (min/max) on mels of synthetic sung tones (several pitches and loudness levels,
breath noise, silence) made with the vocoder's own mel settings and sung with its own source, so no
voice data is needed. The result is kept on disk under a key of the weights and this recipe, so a worker
builds it once (about 10 s at the default size; `python -m singer_tasks voices prepare` at image build).
Measured at openvpi's default size, three random vocoders, on the mel of a random acoustic model and on
a sung tone: waveform SNR at least 42.5 dB against float32 (the fast mode's bar is 30 dB).

A vocoder with `noise_sigma` > 0 draws noise inside its network; it keeps float32 (`supported`).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from singer_tasks.voices.onnx_cache import OnnxSession, cached_session, weights_digest
from singer_tasks.voices.vocoder.nsf_hifigan import Generator, SourceNoise

RECIPE = "int8-qlinearconv-minmax-v2"  # part of the cache key: change it when the recipe changes
_LOCK = threading.Lock()


def supported(vocoder: Generator) -> bool:
    """True when the network can run in int8: on the CPU, and no noise drawn inside it."""
    on_cpu = all(p.device.type == "cpu" for p in vocoder.parameters())
    return on_cpu and vocoder.config.noise_sigma <= 0


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


class _Network(torch.nn.Module):
    """What is exported: the generator's network without its source module."""

    def __init__(self, vocoder: Generator) -> None:
        super().__init__()
        self.vocoder = vocoder

    def forward(self, mel: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        return self.vocoder.network(mel, source.unsqueeze(2).contiguous(memory_format=torch.channels_last))


def build(vocoder: Generator, scratch: Path, target: Path) -> None:
    """Export, calibrate and quantize the network of `vocoder` into `target` (`scratch`: a work folder)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    samples = calibration_inputs(vocoder)

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.items: Iterator[dict[str, np.ndarray]] = iter(samples)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    exported, prepared = scratch / "net.onnx", scratch / "pre.onnx"
    mel, source = (torch.from_numpy(samples[0][key]) for key in ("mel", "source"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's and the quantizer's notices
        with torch.no_grad():
            torch.onnx.export(
                _Network(vocoder), (mel, source), str(exported), input_names=["mel", "source"],
                output_names=["wave"], dynamic_axes={"mel": {0: "B", 2: "T"}, "source": {0: "B", 2: "N"}},
                opset_version=17, dynamo=False,
            )  # fmt: skip
        quant_pre_process(str(exported), str(prepared), skip_symbolic_shape=True)
        # Convolutions only: int8 residual additions too were 21 % faster but cost 5 dB of SNR (37 -> 32 dB).
        quantize_static(
            str(prepared), str(target), Reader(), quant_format=QuantFormat.QOperator, per_channel=True,
            weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8, op_types_to_quantize=["Conv"],
            nodes_to_exclude=float_convs(prepared),
        )  # fmt: skip


def float_convs(model_path: Path) -> list[str]:
    """The convolutions kept in float32: the first (conv_pre, fed the mel itself) and the last (conv_post,
    before the output's tanh). Both are cheap (frame rate; one output channel) and the most sensitive:
    a mel beyond the calibrated range is clipped at conv_pre's int8 input, and conv_post's error is the
    output's. Measured at the default size, three random vocoders, a mel from a random acoustic model
    (ln magnitude -24..13, far beyond a real voice's): SNR at least 30.7 dB with every convolution int8,
    39.2 dB with conv_pre float, 42.5 dB with both, at the same speed."""
    import onnx

    graph = onnx.load(str(model_path)).graph
    producer = {output: node for node in graph.node for output in node.output}

    def reaches_mel(name: str, hops: int = 4) -> bool:  # through the exporter's unsqueeze / layout nodes
        node = producer.get(name)
        if name == "mel" or node is None:
            return name == "mel"
        return hops > 0 and any(reaches_mel(source, hops - 1) for source in node.input)

    feeds_tanh = {name for node in graph.node if node.op_type == "Tanh" for name in node.input}
    return [
        node.name
        for node in graph.node
        if node.op_type == "Conv" and (reaches_mel(node.input[0]) or node.output[0] in feeds_tanh)
    ]


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
        f"{kinds.get('QLinearConv', 0)} QLinearConv (int8, per-channel weights), {kinds.get('Conv', 0)} fp32 Conv "
        "(conv_pre, conv_post)"
    )
