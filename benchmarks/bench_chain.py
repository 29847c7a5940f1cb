"""Per-stage real-time factors of a DiffSinger voice chain, torch and ONNX Runtime side by side, same weights.

Stages: duration (linguistic encoder + duration predictor), pitch (melody encoder, condition, rectified-flow
sampler), variance (energy and breathiness sampler), acoustic (encoder, aux decoder, shallow rectified flow)
and vocoder (NSF-HiFiGAN, pc-nsf). Every model is built at openvpi's default sizes with seeded random
weights in fp32; the ONNX graphs are exported here from the same torch modules (torch.onnx.export,
TorchScript exporter, opset 17, dynamic token / frame axes). A sampling stage is two graphs: its
preparation (encoders, condition, the conditioner projection, the starting point) run once, and one Euler
step (x + v(x, t) * dt, the velocity backbone inside) run `steps` times by the same Python loop on both
sides; denormalisation and the mean over repeat bins are the same torch code on both sides.
Each stage is fed the torch side's outputs of the stage before, so a stage's difference is its own.

Prints figures; asserts nothing about time. `python -m benchmarks chain` or
`python -m benchmarks.bench_chain [--seconds S] [--repeats N] [--steps A,P,V] [--only torch|ort]`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import resource
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import yaml
from torch import Tensor, nn

from benchmarks.bench_voices import DEFAULT_ACOUSTIC, DEFAULT_VOCODER, VOCAB
from benchmarks.machine import cpu_description
from singer_tasks.voices.diffsinger.acoustic.backbones.lynxnet2 import LYNXNet2
from singer_tasks.voices.diffsinger.acoustic.config import AcousticConfig
from singer_tasks.voices.diffsinger.acoustic.encoder import mel2ph_to_dur, stretch_curve
from singer_tasks.voices.diffsinger.acoustic.model import AcousticInputs, DiffSingerAcoustic
from singer_tasks.voices.diffsinger.acoustic.reflow import RectifiedFlow
from singer_tasks.voices.diffsinger.variance.config import VarianceConfig
from singer_tasks.voices.diffsinger.variance.duration import length_regulate
from singer_tasks.voices.diffsinger.variance.inputs import VarianceInputs
from singer_tasks.voices.diffsinger.variance.model import DiffSingerVariance
from singer_tasks.voices.diffsinger.variance.pitch import Sampler, gather_frames, retake_embedding
from singer_tasks.voices.runtime import configure_torch
from singer_tasks.voices.vocoder.config import VocoderConfig
from singer_tasks.voices.vocoder.nsf_hifigan import Generator, channels_last_weights

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests/singer_tasks/fixtures/openvpi"
ACOUSTIC_BASE = FIXTURES / "main-lynxnet2-euler/config.yaml"
VARIANCE_BASE = FIXTURES / "var-word-all/config.yaml"
OPSET = 17
STAGES = ("duration", "pitch", "variance", "acoustic", "vocoder")

# openvpi configs/variance.yaml (main, commit 753b7cc): hidden 384 with 4 encoder layers, resnet duration
# predictor 256 x 5, melody encoder 128 x 4, pitch LYNXNet2 512 x 6 over 64 repeat bins, variances
# LYNXNet2 384 x 6 over 72 bins in all, reflow + euler. openvpi predicts no variance curve by default; energy
# and breathiness are the usual pair (the backbone's width is total_repeat_bins whichever curves are on).
DEFAULT_VARIANCE: dict[str, Any] = {
    "hidden_size": 384, "enc_layers": 4, "num_heads": 2, "enc_ffn_kernel_size": 3, "ffn_act": "gelu",
    "use_pos_embed": True, "rel_pos": True, "use_rope": True, "rope_interleaved": False,
    "use_stretch_embed": False, "use_variance_scaling": True, "predict_dur": True, "predict_pitch": True,
    "predict_energy": True, "predict_breathiness": True, "predict_voicing": False, "predict_tension": False,
    "dur_prediction_args": {"arch": "resnet", "hidden_size": 256, "num_layers": 5, "kernel_size": 3},
    "use_melody_encoder": True, "melody_encoder_args": {"hidden_size": 128, "enc_layers": 4},
    "use_glide_embed": False,
    "pitch_prediction_args": {"repeat_bins": 64, "backbone_type": "lynxnet2",
                              "backbone_args": {"num_layers": 6, "num_channels": 512, "dropout_rate": 0.0,
                                                "use_conditioner_cache": True, "glu_type": "atanglu"}},
    "variances_prediction_args": {"total_repeat_bins": 72, "backbone_type": "lynxnet2",
                                  "backbone_args": {"num_layers": 6, "num_channels": 384, "dropout_rate": 0.0,
                                                    "use_conditioner_cache": True, "glu_type": "atanglu"}},
    "diffusion_type": "reflow", "sampling_algorithm": "euler", "sampling_steps": 20, "time_scale_factor": 1000,
}  # fmt: skip


# ---------------------------------------------------------------------------------------------- models


def _merged(base: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """A fixture's full flattened config with `overrides` applied (nested dicts merged one level deep)."""
    hp: dict[str, Any] = yaml.safe_load(base.read_text())
    for key, value in overrides.items():
        hp[key] = {**hp[key], **value} if isinstance(value, dict) and isinstance(hp.get(key), dict) else value
    return hp


def _randomise(model: nn.Module, seed: int) -> None:
    """Seeded random weights: PyTorch's initialisation plus a small perturbation of every parameter, so
    that no zero-initialised layer (output projections) makes a stage trivially exact."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.02 * torch.randn(param.shape, generator=gen))


def build_models(seed: int) -> tuple[DiffSingerVariance, DiffSingerAcoustic, Generator]:
    """The variance model, acoustic model and pc-nsf vocoder at default sizes, random weights, eval, fp32."""
    torch.manual_seed(seed)
    variance = DiffSingerVariance(VarianceConfig.from_dict(_merged(VARIANCE_BASE, DEFAULT_VARIANCE)), VOCAB)
    acoustic = DiffSingerAcoustic(AcousticConfig.from_dict(_merged(ACOUSTIC_BASE, DEFAULT_ACOUSTIC)), VOCAB)
    vocoder = Generator(VocoderConfig.from_dict({**DEFAULT_VOCODER, "mini_nsf": True}))
    for i, model in enumerate((variance, acoustic, vocoder)):
        _randomise(model, seed + i)
    channels_last_weights(vocoder)  # as load_vocoder lays the weights out
    return variance.eval(), acoustic.eval(), vocoder.eval()


# ---------------------------------------------------------------------------------------------- inputs


@dataclass
class Phrase:
    """A synthetic phrase: N phonemes in W words, one note per word, T frames (see `make_phrase`)."""

    tokens: Tensor  # int64 [1, N]
    ph2word: Tensor  # int64 [1, N], 1-based
    midi: Tensor  # int64 [1, N]
    word_dur: Tensor  # int64 [1, W] frames
    ph_dur: Tensor  # int64 [1, N] frames
    mel2ph: Tensor  # int64 [1, T], 1-based
    note_midi: Tensor  # float32 [1, W]
    note_rest: Tensor  # bool [1, W]
    note_dur: Tensor  # int64 [1, W]
    mel2note: Tensor  # int64 [1, T]
    base_pitch: Tensor  # float32 [1, T] MIDI

    @property
    def frames(self) -> int:
        """T."""
        return int(self.mel2ph.shape[1])


def _split(total: int, parts: int, gen: torch.Generator, low: float = 0.5) -> Tensor:
    """`total` split into `parts` positive integers of random sizes (int64 [parts])."""
    weights = low + torch.rand(parts, generator=gen)
    cuts = torch.round(torch.cumsum(weights, 0) / weights.sum() * total).long()
    sizes = torch.diff(cuts, prepend=torch.zeros(1, dtype=torch.long))
    return sizes.clamp(min=1)


def make_phrase(frames: int, words: int, phonemes: int, seed: int) -> Phrase:
    """`words` notes (MIDI 55-72, every tenth a rest) of `phonemes` random tokens in all, tiling `frames`."""
    gen = torch.Generator().manual_seed(seed)
    word_dur = _split(frames, words, gen)
    word_dur[-1] += frames - int(word_dur.sum())
    ph_num = torch.full((words,), phonemes // words)
    ph_num[torch.randperm(words, generator=gen)[: phonemes - int(ph_num.sum())]] += 1
    ph_dur = torch.cat([_split(int(d), int(n), gen, low=1.0) for d, n in zip(word_dur, ph_num, strict=True)])
    ph_dur[-1] += frames - int(ph_dur.sum())  # rounding inside a word can leave a frame over or under
    ph2word = torch.repeat_interleave(torch.arange(1, words + 1), ph_num)
    note_midi = torch.randint(55, 73, (words,), generator=gen).float()
    note_rest = torch.zeros(words, dtype=torch.bool)
    note_rest[9::10] = True
    keys = note_midi.clone()
    keys[note_rest] = keys[note_rest.nonzero().squeeze(1) - 1]  # a rest takes the key before it
    mel2note = length_regulate(word_dur[None])
    return Phrase(
        tokens=torch.randint(1, VOCAB, (1, phonemes), generator=gen),
        ph2word=ph2word[None],
        midi=keys.round().long()[ph2word - 1][None],
        word_dur=word_dur[None],
        ph_dur=ph_dur[None],
        mel2ph=length_regulate(ph_dur[None]),
        note_midi=note_midi[None],
        note_rest=note_rest[None],
        note_dur=word_dur[None],
        mel2note=mel2note,
        base_pitch=keys[mel2note[0] - 1][None],
    )


def variance_inputs(phrase: Phrase, pitch: Tensor | None = None) -> VarianceInputs:
    """The phrase as the variance model's own inputs (durations given), for the reference check."""
    return VarianceInputs(
        tokens=phrase.tokens, ph2word=phrase.ph2word, midi=phrase.midi, word_dur=phrase.word_dur,
        note_midi=phrase.note_midi, note_rest=phrase.note_rest, note_dur=phrase.note_dur,
        note_glide=torch.zeros_like(phrase.note_dur), mel2note=phrase.mel2note, base_pitch=phrase.base_pitch,
        ph_dur=phrase.ph_dur, mel2ph=phrase.mel2ph, pitch=pitch,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------- stage graphs


class DurationNet(nn.Module):
    """(tokens, midi, ph2word, word_dur) -> (encoder_out [1, N, H], durations [1, N] frames): the variance
    model's word-level linguistic encoder and duration predictor."""

    def __init__(self, model: DiffSingerVariance) -> None:
        super().__init__()
        self.fs2 = model.fs2

    def forward(self, tokens: Tensor, midi: Tensor, ph2word: Tensor, word_dur: Tensor) -> tuple[Tensor, Tensor]:
        encoder_out, dur = self.fs2(tokens, midi, ph2word, word_dur=word_dur)
        return encoder_out, dur


def _project(flow: Sampler, cond: Tensor) -> Tensor:
    """A LYNXNet2 sampler's conditioner projection of cond [1, T, H] -> [1, T, C] (the conditioner cache)."""
    return cast(LYNXNet2, flow.velocity_fn).project_condition(cond.transpose(1, 2))


def _frame_condition(model: DiffSingerVariance, encoder_out: Tensor, mel2ph: Tensor) -> Tensor:
    """The variance model's frame-level condition [1, T, H] (DiffSingerVariance.predict, one speaker)."""
    condition = gather_frames(encoder_out, mel2ph)
    if model.config.use_stretch_embed:
        stretch = torch.round(1000 * stretch_curve(mel2ph, mel2ph_to_dur(mel2ph, encoder_out.shape[1])))
        condition = condition + model.stretch_embed(stretch)
        rnn_out, _ = model.stretch_embed_rnn(condition)
        condition = condition + rnn_out
    return condition


class PitchPrep(nn.Module):
    """-> the pitch backbone's projected condition [1, T, C]: frame condition + melody encoder + retake
    (everything re-predicted) + zero delta-pitch embedding, as DiffSingerVariance._predict_pitch."""

    def __init__(self, model: DiffSingerVariance) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        encoder_out: Tensor,
        mel2ph: Tensor,
        note_midi: Tensor,
        note_rest: Tensor,
        note_dur: Tensor,
        mel2note: Tensor,
        base_pitch: Tensor,
    ) -> Tensor:
        m = self.model
        cond = _frame_condition(m, encoder_out, mel2ph)
        cond = cond + gather_frames(m.melody_encoder(note_midi, note_rest, note_dur, None), mel2note)
        cond = cond + retake_embedding(m.pitch_retake_embed, torch.ones_like(mel2note, dtype=torch.bool), None)
        scale = 1 / 12 if m.config.use_variance_scaling else 1.0
        cond = cond + m.delta_pitch_embed(torch.zeros_like(base_pitch)[:, :, None] * scale)
        return _project(m.pitch_predictor, cond)


class VariancePrep(nn.Module):
    """-> the variance backbone's projected condition [1, T, C]: frame condition + pitch embedding."""

    def __init__(self, model: DiffSingerVariance) -> None:
        super().__init__()
        self.model = model

    def forward(self, encoder_out: Tensor, mel2ph: Tensor, pitch: Tensor) -> Tensor:
        m = self.model
        pitch_in = pitch[:, :, None] / 12 if m.config.use_variance_scaling else pitch[:, :, None]
        cond = _frame_condition(m, encoder_out, mel2ph) + m.pitch_embed(pitch_in)
        return _project(m.variance_predictor, cond)


class AcousticPrep(nn.Module):
    """(tokens, mel2ph, f0, noise) -> (x at t_start [1, 1, M, T], projected condition [1, T, C]): the fs2
    encoder, the aux decoder's mel mixed with the noise (shallow diffusion), the conditioner projection."""

    def __init__(self, model: DiffSingerAcoustic, t_start: float) -> None:
        super().__init__()
        self.model = model
        self.t_start = t_start

    def forward(self, tokens: Tensor, mel2ph: Tensor, f0: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
        m = self.model
        cond = m.fs2(tokens, mel2ph, f0, {})
        aux = m.aux_decoder(cond) * (mel2ph > 0).float()[:, :, None]
        x_end = m.diffusion.norm_spec(aux).transpose(-2, -1)[:, None]
        x = self.t_start * x_end + (1 - self.t_start) * noise
        return x, _project(m.diffusion, cond)


class EulerStep(nn.Module):
    """(x, t [1], dt [1], projected condition) -> x + v(x, time_scale * t) * dt (RectifiedFlow._step_euler)."""

    def __init__(self, flow: RectifiedFlow) -> None:
        super().__init__()
        self.backbone = flow.velocity_fn
        self.time_scale = flow.time_scale_factor

    def forward(self, x: Tensor, t: Tensor, dt: Tensor, cond_projected: Tensor) -> Tensor:
        v = self.backbone(x, self.time_scale * t, cond_projected, cond_projected=cond_projected)
        return x + v * dt  # type: ignore[no-any-return]


class VocoderNet(nn.Module):
    """(mel [1, M, T], f0 [1, T] Hz) -> waveform [1, 1, T * hop]."""

    def __init__(self, vocoder: Generator) -> None:
        super().__init__()
        self.vocoder = vocoder

    def forward(self, mel: Tensor, f0: Tensor) -> Tensor:
        return self.vocoder(mel, f0)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------- runtimes


def _diff_symbolic(g: Any, x: Any, n: Any, dim: Any, prepend: Any, append: Any) -> Any:
    """ONNX form of torch.diff(x, n=1, dim, prepend) (the linguistic encoder's word onsets), which the
    TorchScript exporter lacks: Concat(prepend, x), then x[1:] - x[:-1] along dim."""
    from torch.onnx import symbolic_helper as sh

    n_value = sh._get_const(n, "i", "n")  # type: ignore[no-untyped-call]
    axis = sh._get_const(dim, "i", "dim")  # type: ignore[no-untyped-call]
    if n_value != 1 or not sh._is_none(append):
        raise NotImplementedError("only torch.diff(x, n=1, dim, prepend=...) is exported")
    if not sh._is_none(prepend):
        x = g.op("Concat", prepend, x, axis_i=axis)

    def const(v: int) -> Any:
        return g.op("Constant", value_t=torch.tensor([v], dtype=torch.long))

    hi = g.op("Slice", x, const(1), const(2**62), const(axis))
    lo = g.op("Slice", x, const(0), const(-1), const(axis))
    return g.op("Sub", hi, lo)


Feeds = dict[str, Tensor]


@dataclass
class Graph:
    """One torch module and (once exported) its ONNX Runtime session, called with the same named inputs."""

    name: str
    module: nn.Module
    inputs: Feeds  # example inputs, in forward's order
    outputs: tuple[str, ...]
    dynamic: dict[str, dict[int, str]]
    session: Any = None  # onnxruntime.InferenceSession

    def torch(self, feeds: Feeds) -> tuple[Tensor, ...]:
        """The module on `feeds` (by name, forward's order)."""
        out = self.module(*(feeds[k] for k in self.inputs))
        return out if isinstance(out, tuple) else (out,)

    def ort(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The session on `feeds` (the names the graph kept)."""
        names = [i.name for i in self.session.get_inputs()]
        return self.session.run(None, {k: feeds[k] for k in names})  # type: ignore[no-any-return]

    def export(self, folder: Path, threads: int) -> float:
        """Export to ONNX (TorchScript exporter) and open a CPU session; returns the seconds it took."""
        import onnxruntime as ort

        torch.onnx.register_custom_op_symbolic("aten::diff", _diff_symbolic, OPSET)  # type: ignore[attr-defined]
        start = time.perf_counter()
        path = folder / f"{self.name}.onnx"
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                self.module, tuple(self.inputs.values()), str(path), dynamo=False, opset_version=OPSET,
                input_names=list(self.inputs), output_names=list(self.outputs), dynamic_axes=self.dynamic,
                do_constant_folding=True,
            )  # fmt: skip
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        return time.perf_counter() - start


def _np(feeds: Feeds) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in feeds.items()}


@dataclass
class Stage:
    """A chain stage: its graphs, and one full run on each runtime returning the stage's main output."""

    name: str
    graphs: list[Graph]
    run_torch: Callable[[], Tensor]
    run_ort: Callable[[], Tensor]
    unit: str
    note: str


def _euler_times(t_start: float, steps: int) -> tuple[list[Tensor], Tensor]:
    """The step times t_start + i * dt and dt [1] as RectifiedFlow.sample computes them."""
    dt = (1.0 - t_start) / max(1, steps)
    dts = torch.tensor([dt])
    return [t_start + i * dts for i in range(steps)], dts


def _sampling_stage(
    name: str,
    prep: Graph,
    step: Graph,
    x0: Callable[[Sequence[Tensor]], tuple[Tensor, Tensor]],
    post: Callable[[Tensor], Tensor],
    t_start: float,
    steps: int,
    unit: str,
    note: str,
) -> Stage:
    """prep once -> x0(prep outputs) = (x, projected condition) -> `steps` Euler steps -> post(x)."""
    times, dt = _euler_times(t_start, steps)
    times_np, dt_np = [t.numpy() for t in times], dt.numpy()

    def run_torch() -> Tensor:
        x, cond = x0(prep.torch(prep.inputs))
        for t in times:
            x = step.module(x, t, dt, cond)
        return post(x)

    def run_ort() -> Tensor:
        outs = prep.ort(_np(prep.inputs))
        x, cond = x0([torch.from_numpy(o) for o in outs])
        x_np, cond_np = x.numpy(), cond.numpy()
        for t in times_np:
            x_np = step.ort({"x": x_np, "t": t, "dt": dt_np, "cond_projected": cond_np})[0]
        return post(torch.from_numpy(x_np))

    return Stage(name, [prep, step], run_torch, run_ort, unit, note)


def _step_graph(name: str, flow: RectifiedFlow, x: Tensor, cond_projected: Tensor) -> Graph:
    t, dt = _euler_times(0.0, 1)
    return Graph(
        name, EulerStep(flow), {"x": x, "t": t[0], "dt": dt, "cond_projected": cond_projected}, ("x_next",),
        {"x": {3: "T"}, "cond_projected": {1: "T"}, "x_next": {3: "T"}},
    )  # fmt: skip


def _repeat_bin_mean(flow: RectifiedFlow, x: Tensor) -> Tensor:
    """Denormalise x [1, F, R, T] and average the R repeat bins -> [1, T] (one feature) or [1, F, T]."""
    return flow.denorm_spec(x.float().transpose(2, 3).squeeze(1)).mean(dim=-1)


@dataclass
class ChainSteps:
    """Sampler steps per sampling stage."""

    acoustic: int = 20
    pitch: int = 10
    variance: int = 20


def build_stages(
    variance: DiffSingerVariance, acoustic: DiffSingerAcoustic, vocoder: Generator, phrase: Phrase, steps: ChainSteps
) -> tuple[list[Stage], dict[str, Tensor]]:
    """The five stages with their example inputs chained from the torch outputs; also the torch outputs."""
    vcfg = variance.config
    p = phrase
    gen = torch.Generator().manual_seed(1234)
    t_frames = p.frames
    outs: dict[str, Tensor] = {}

    dur = Graph(
        "duration", DurationNet(variance),
        {"tokens": p.tokens, "midi": p.midi, "ph2word": p.ph2word, "word_dur": p.word_dur},
        ("encoder_out", "ph_dur_pred"),
        {"tokens": {1: "N"}, "midi": {1: "N"}, "ph2word": {1: "N"}, "word_dur": {1: "W"},
         "encoder_out": {1: "N"}, "ph_dur_pred": {1: "N"}},
    )  # fmt: skip
    encoder_out, ph_dur_pred = dur.torch(dur.inputs)
    outs["encoder_out"], outs["ph_dur_pred"] = encoder_out, ph_dur_pred
    duration = Stage(
        "duration", [dur], lambda: dur.torch(dur.inputs)[1], lambda: torch.from_numpy(dur.ort(_np(dur.inputs))[1]),
        "frames", "linguistic encoder + duration predictor, one graph",
    )  # fmt: skip

    # pitch: prep graph + Euler step graph over [1, 1, 64, T]
    pflow = variance.pitch_predictor
    assert isinstance(pflow, RectifiedFlow)
    pitch_feeds = {
        "encoder_out": encoder_out, "mel2ph": p.mel2ph, "note_midi": p.note_midi, "note_rest": p.note_rest,
        "note_dur": p.note_dur, "mel2note": p.mel2note, "base_pitch": p.base_pitch,
    }  # fmt: skip
    pprep = Graph(
        "pitch_prep", PitchPrep(variance), pitch_feeds, ("cond_projected",),
        {"encoder_out": {1: "N"}, "mel2ph": {1: "T"}, "note_midi": {1: "Nn"}, "note_rest": {1: "Nn"},
         "note_dur": {1: "Nn"}, "mel2note": {1: "T"}, "base_pitch": {1: "T"}, "cond_projected": {1: "T"}},
    )  # fmt: skip
    pitch_noise = torch.randn((1, 1, vcfg.pitch.repeat_bins, t_frames), generator=gen)
    pcond = pprep.torch(pitch_feeds)[0]
    pstep = _step_graph("pitch_step", pflow, pitch_noise, pcond)

    def pitch_post(x: Tensor) -> Tensor:
        delta = _repeat_bin_mean(pflow, x).clamp(min=vcfg.pitch.clip_min, max=vcfg.pitch.clip_max)
        return p.base_pitch + delta

    pitch = _sampling_stage(
        "pitch", pprep, pstep, lambda o: (pitch_noise, o[0]), pitch_post, 0.0, steps.pitch, "semitones",
        f"melody encoder + condition graph, then {steps.pitch} x Euler step graph (LYNXNet2 512 x 6, 64 bins)",
    )  # fmt: skip
    outs["pitch"] = pitch.run_torch()
    outs["pitch_noise"] = pitch_noise

    # variance: prep graph + Euler step graph over [1, F, R, T]
    vflow = variance.variance_predictor
    assert isinstance(vflow, RectifiedFlow)
    names = vcfg.variances.names
    var_feeds = {"encoder_out": encoder_out, "mel2ph": p.mel2ph, "pitch": outs["pitch"]}
    vprep = Graph(
        "variance_prep", VariancePrep(variance), var_feeds, ("cond_projected",),
        {"encoder_out": {1: "N"}, "mel2ph": {1: "T"}, "pitch": {1: "T"}, "cond_projected": {1: "T"}},
    )  # fmt: skip
    var_noise = torch.randn((1, len(names), vcfg.variances.repeat_bins, t_frames), generator=gen)
    vstep = _step_graph("variance_step", vflow, var_noise, vprep.torch(var_feeds)[0])
    clamps = torch.tensor(vcfg.variances.clamps)  # (F, 2)

    def variance_post(x: Tensor) -> Tensor:
        curves = _repeat_bin_mean(vflow, x).reshape(1, len(names), -1)
        return torch.maximum(torch.minimum(curves, clamps[None, :, 1:]), clamps[None, :, :1])

    var_stage = _sampling_stage(
        "variance", vprep, vstep, lambda o: (var_noise, o[0]), variance_post, 0.0, steps.variance, "dB",
        f"condition graph, then {steps.variance} x Euler step graph (LYNXNet2 384 x 6, "
        f"{len(names)} x {vcfg.variances.repeat_bins} bins: {', '.join(names)})",
    )  # fmt: skip
    outs["variances"] = var_stage.run_torch()
    outs["variance_noise"] = var_noise

    # acoustic: prep graph (fs2 + aux decoder + mix) + Euler step graph over [1, 1, 128, T]
    acfg = acoustic.config
    aflow = acoustic.diffusion
    assert isinstance(aflow, RectifiedFlow)
    depth = acfg.default_depth
    t_start = 1.0 - depth
    f0 = 440.0 * 2 ** ((outs["pitch"] - 69) / 12)
    ac_noise = torch.randn((1, 1, acfg.mel.n_mels, t_frames), generator=gen)
    ac_feeds = {"tokens": p.tokens, "mel2ph": p.mel2ph, "f0": f0, "noise": ac_noise}
    aprep = Graph(
        "acoustic_prep", AcousticPrep(acoustic, t_start), ac_feeds, ("x_start", "cond_projected"),
        {"tokens": {1: "N"}, "mel2ph": {1: "T"}, "f0": {1: "T"}, "noise": {3: "T"}, "x_start": {3: "T"},
         "cond_projected": {1: "T"}},
    )  # fmt: skip
    x_start, acond = aprep.torch(ac_feeds)
    astep = _step_graph("acoustic_step", aflow, x_start, acond)
    mask = (p.mel2ph > 0).float()[:, :, None]

    def acoustic_post(x: Tensor) -> Tensor:
        return aflow.denorm_spec(x.float().transpose(2, 3).squeeze(1)) * mask

    ac_stage = _sampling_stage(
        "acoustic", aprep, astep, lambda o: (o[0], o[1]), acoustic_post, t_start, steps.acoustic, "ln mel",
        f"encoder + aux decoder graph, then {steps.acoustic} x Euler step graph (LYNXNet2 1024 x 6) over "
        f"depth {depth:g}",
    )  # fmt: skip
    outs["mel"] = ac_stage.run_torch()
    outs["f0"], outs["acoustic_noise"] = f0, ac_noise

    voc_feeds = {"mel": outs["mel"].transpose(1, 2).contiguous(), "f0": f0}
    voc = Graph(
        "vocoder", VocoderNet(vocoder), voc_feeds, ("waveform",),
        {"mel": {2: "T"}, "f0": {1: "T"}, "waveform": {2: "samples"}},
    )  # fmt: skip
    vocoder_stage = Stage(
        "vocoder", [voc], lambda: voc.torch(voc.inputs)[0], lambda: torch.from_numpy(voc.ort(_np(voc.inputs))[0]),
        "wave", "NSF-HiFiGAN pc-nsf (upsample_initial_channel 512), one graph",
    )  # fmt: skip
    return [duration, pitch, var_stage, ac_stage, vocoder_stage], outs


def reference_check(
    variance: DiffSingerVariance,
    acoustic: DiffSingerAcoustic,
    phrase: Phrase,
    outs: dict[str, Tensor],
    steps: ChainSteps,
) -> dict[str, float]:
    """Max abs difference of the stage wrappers' torch outputs from the models' own inference (same noise)."""
    noise = [outs["pitch_noise"], outs["variance_noise"]]
    pred = variance.predict(variance_inputs(phrase), steps=steps.pitch, noise=noise)
    assert pred.pitch_midi is not None
    pred_var = variance.predict(variance_inputs(phrase, outs["pitch"]), steps=steps.variance, noise=noise)
    curves = torch.stack([pred_var.variances[n] for n in variance.config.variances.names], dim=1)
    mel = acoustic.render(
        AcousticInputs(phrase.tokens, phrase.mel2ph, outs["f0"]), steps=steps.acoustic, noise=outs["acoustic_noise"]
    ).mel
    return {
        "pitch": float((pred.pitch_midi - outs["pitch"]).abs().max()),
        "variance": float((curves - outs["variances"]).abs().max()),
        "acoustic": float((mel - outs["mel"]).abs().max()),
    }


# ---------------------------------------------------------------------------------------------- timing


def time_interleaved(
    fns: dict[str, Callable[[], Tensor]], repeats: int
) -> tuple[dict[str, list[float]], dict[str, Tensor]]:
    """Warm each runtime up once (keeping its output), then `repeats` rounds timing each in turn, so that
    a burst of load elsewhere on the machine hits both sides alike; returns the times and the outputs."""
    outputs = {name: fn() for name, fn in fns.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times, outputs


def _parse_steps(text: str) -> ChainSteps:
    parts = [int(x) for x in text.split(",")]
    if len(parts) == 1:
        parts *= 3
    if len(parts) != 3 or min(parts) < 1:
        raise argparse.ArgumentTypeError("--steps takes N (every sampler) or ACOUSTIC,PITCH,VARIANCE")
    return ChainSteps(*parts)


def _load() -> str:
    """The 1-minute load average (other processes on the machine skew the figures)."""
    return f"load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "load average unknown"


def _fmt(value: float, spec: str) -> str:
    """`value` formatted by `spec` ("9.4f"), or "-" right-aligned to the same width when it is NaN."""
    if math.isnan(value):
        return "-".rjust(int(spec.split(".")[0] or 0))
    return format(value, spec)


def main(argv: list[str] | None = None) -> None:
    """Build the chain, export it, time every stage on torch and ONNX Runtime, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="phrase length (default 10 s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per stage and runtime (median)")
    parser.add_argument(
        "--steps",
        type=_parse_steps,
        default=ChainSteps(),
        help="sampler steps: N, or ACOUSTIC,PITCH,VARIANCE (20,10,20)",
    )
    parser.add_argument("--only", choices=("torch", "ort"), help="time one runtime only")
    parser.add_argument("--seed", type=int, default=0, help="weights and inputs seed")
    args = parser.parse_args(argv or [])
    wall = time.perf_counter()

    threads = configure_torch()
    model, isa = cpu_description()
    import onnxruntime as ort

    flags = " ".join(f"{k}={'yes' if v else 'no'}" for k, v in isa.items())
    print(f"cpu: {model}, {os.cpu_count()} logical cpus; {flags}; {_load()} at start")
    print(
        f"torch {torch.__version__} (threads {torch.get_num_threads()}, interop {torch.get_num_interop_threads()}); "
        f"onnxruntime {ort.__version__} (CPUExecutionProvider, intra_op {threads}, inter_op 1); fp32"
    )
    variance, acoustic, vocoder = build_models(args.seed)
    cfg = acoustic.config
    frames = round(args.seconds / cfg.mel.frame_s)
    audio_s = frames * cfg.mel.frame_s
    words = max(1, round(4 * args.seconds))
    phrase = make_phrase(frames, words, max(words, round(10 * args.seconds)), args.seed)
    params = {n: sum(p.numel() for p in m.parameters()) / 1e6 for n, m in
              (("variance", variance), ("acoustic", acoustic), ("vocoder", vocoder))}  # fmt: skip
    print(
        f"phrase: {audio_s:.2f} s = {frames} frames (hop 512 / 44.1 kHz), {phrase.tokens.shape[1]} phonemes, "
        f"{words} notes; vocab {VOCAB}; params: variance {params['variance']:.1f} M, acoustic "
        f"{params['acoustic']:.1f} M, vocoder {params['vocoder']:.1f} M; steps acoustic {args.steps.acoustic}, "
        f"pitch {args.steps.pitch}, variance {args.steps.variance} (euler); warm-up 1, median of {args.repeats}"
    )
    with torch.inference_mode():
        stages, outs = build_stages(variance, acoustic, vocoder, phrase, args.steps)
        ref = reference_check(variance, acoustic, phrase, outs, args.steps)
    print(
        "stage graphs vs the models' own torch inference (same noise), max abs diff: "
        + ", ".join(f"{k} {v:.1e}" for k, v in ref.items())
    )
    for stage in stages:
        print(f"  {stage.name:<9} {stage.note}")
    if args.only != "torch":
        with tempfile.TemporaryDirectory() as tmp:
            export_s = sum(g.export(Path(tmp), threads) for s in stages for g in s.graphs)
        print(f"ONNX export (opset {OPSET}, TorchScript exporter) + session creation: {export_s:.1f} s")

    rows = []
    for stage in stages:
        fns = {"torch": stage.run_torch, "ort": stage.run_ort}
        fns = {k: v for k, v in fns.items() if args.only in (None, k)}
        with torch.inference_mode():
            times, outputs = time_interleaved(fns, args.repeats)
        t_torch, t_ort = (statistics.median(times[k]) if k in times else math.nan for k in ("torch", "ort"))
        diff = float((outputs["torch"] - outputs["ort"]).abs().max()) if len(outputs) == 2 else math.nan
        rows.append((stage, t_torch, t_ort, diff))
        spread = "; ".join(f"{k} {min(v):.3f}-{max(v):.3f} s" for k, v in times.items())
        print(f"  timed {stage.name}: {spread} (at {time.perf_counter() - wall:.0f} s, {_load()})", flush=True)

    print(f"\nRTF = compute s / {audio_s:.2f} s of audio; ratio = torch s / ORT s (> 1: ORT faster)")
    header = (
        f"{'stage':<9} | {'torch s':>8} | {'ORT s':>8} | {'torch RTF':>9} | {'ORT RTF':>8} | {'ratio':>6} "
        "| max abs diff (unit)"
    )
    print(header)
    print("-" * len(header))
    total_t = total_o = 0.0
    for stage, t_torch, t_ort, diff in rows:
        total_t += t_torch
        total_o += t_ort
        print(
            f"{stage.name:<9} | {_fmt(t_torch, '8.3f')} | {_fmt(t_ort, '8.3f')} | {_fmt(t_torch / audio_s, '9.4f')} | "
            f"{_fmt(t_ort / audio_s, '8.4f')} | {_fmt(t_torch / t_ort, '6.2f')} | {_fmt(diff, '.1e')} "
            f"{stage.unit if not math.isnan(diff) else ''}"
        )
    print(
        f"{'chain':<9} | {_fmt(total_t, '8.3f')} | {_fmt(total_o, '8.3f')} | {_fmt(total_t / audio_s, '9.4f')} | "
        f"{_fmt(total_o / audio_s, '8.4f')} | {_fmt(total_t / total_o, '6.2f')} |"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:.0f} MiB; {_load()}; wall {time.perf_counter() - wall:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
