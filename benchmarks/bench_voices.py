"""Voice benchmarks: real-time factors of the acoustic model and the vocoder at openvpi's default sizes.

Random weights, a 10 s phrase, the process's pinned torch threads (singer_tasks.voices.runtime). Prints
figures; asserts nothing about time. `python -m benchmarks.bench_voices [--profile] [--seconds S]`.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from singer_tasks.voices.diffsinger.acoustic.config import AcousticConfig
from singer_tasks.voices.diffsinger.acoustic.load import build_acoustic_model
from singer_tasks.voices.diffsinger.acoustic.model import AcousticInputs
from singer_tasks.voices.runtime import configure_torch, cpu_quota
from singer_tasks.voices.vocoder.config import VocoderConfig
from singer_tasks.voices.vocoder.load import load_vocoder

# openvpi configs/acoustic.yaml (main branch): hidden 384, 4 encoder layers, reflow + LYNXNet2
# 1024 x 6, shallow diffusion from T_start 0.4 with euler 20 steps, 128 mels at 44.1 kHz / hop 512.
DEFAULT_ACOUSTIC: dict[str, Any] = {
    "hidden_size": 384, "enc_layers": 4, "num_heads": 2, "enc_ffn_kernel_size": 3, "ffn_act": "gelu",
    "use_pos_embed": True, "rel_pos": True, "use_rope": True, "rope_interleaved": False, "use_stretch_embed": True,
    "use_variance_scaling": True, "diffusion_type": "reflow", "backbone_type": "lynxnet2",
    "backbone_args": {"num_channels": 1024, "num_layers": 6, "kernel_size": 31, "dropout_rate": 0.0,
                      "use_conditioner_cache": True, "glu_type": "atanglu"},
    "use_shallow_diffusion": True, "T_start": 0.4, "T_start_infer": 0.4, "sampling_algorithm": "euler",
    "sampling_steps": 20, "time_scale_factor": 1000, "spec_min": [-12], "spec_max": [0], "mel_base": "e",
    "shallow_diffusion_args": {"aux_decoder_arch": "convnext",
                               "aux_decoder_args": {"num_channels": 512, "num_layers": 6, "kernel_size": 7}},
}  # fmt: skip
DEFAULT_VOCODER: dict[str, Any] = {
    "sampling_rate": 44100, "num_mels": 128, "hop_size": 512, "n_fft": 2048, "win_size": 2048, "fmin": 40,
    "fmax": 16000, "upsample_rates": [8, 8, 2, 2, 2], "upsample_kernel_sizes": [16, 16, 4, 4, 4],
    "upsample_initial_channel": 512, "resblock": "1", "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], "noise_sigma": 0.0,
}  # fmt: skip
VOCAB = 64


def _acoustic_inputs(config: AcousticConfig, seconds: float) -> AcousticInputs:
    frames = round(seconds / config.mel.frame_s)
    tokens = torch.randint(1, VOCAB, (1, 60))
    mel2ph = torch.repeat_interleave(torch.arange(1, 61), frames // 60 + 1)[:frames][None]
    f0 = 220.0 * 2 ** (torch.sin(torch.arange(frames) / 40.0)[None] / 6)
    return AcousticInputs(tokens, mel2ph, f0)


def _timed(fn: Any, repeats: int = 2) -> float:
    fn()  # warm-up (allocators, oneDNN kernels)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _save_acoustic(config: AcousticConfig, folder: Path) -> Path:
    from singer_tasks.voices.diffsinger.acoustic.model import DiffSingerAcoustic

    model = DiffSingerAcoustic(config, VOCAB)
    path = folder / "acoustic.ckpt"
    torch.save({"category": "acoustic", "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}, path)
    return path


def _save_vocoder(raw: dict[str, Any], folder: Path) -> Path:
    import json

    from singer_tasks.voices.vocoder.nsf_hifigan import Generator

    sub = folder / ("voc-mini" if raw.get("mini_nsf") else "voc-classic")
    sub.mkdir()
    (sub / "config.json").write_text(json.dumps(raw))
    # Random weights saved in openvpi's weight-norm layout, so loading folds them as it would real ones.
    state = Generator(VocoderConfig.from_dict(raw)).state_dict()
    layout: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(".weight") and value.dim() == 3 and not key.startswith(("noise_convs", "source_conv")):
            layout[key + "_v"] = value
            layout[key + "_g"] = value.flatten(1).norm(dim=1).reshape(-1, 1, 1)
        else:
            layout[key] = value
    torch.save({"generator": layout}, sub / "model.ckpt")
    return sub / "model.ckpt"


def _profile(label: str, fn: Any) -> None:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    print(f"\n--- profile: {label} (top ops by self CPU time) ---")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


def main(argv: list[str] | None = None) -> None:
    """Print RTFs, load times and peak RSS."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="phrase length (default 10 s)")
    parser.add_argument("--profile", action="store_true", help="also print torch profiler tables")
    args = parser.parse_args(argv or [])

    threads = configure_torch()
    print(
        f"cpu quota {cpu_quota()}, torch threads {torch.get_num_threads()} (interop {torch.get_num_interop_threads()})"
    )
    config = AcousticConfig.from_dict(DEFAULT_ACOUSTIC)
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        folder = Path(tmp)
        ckpt = _save_acoustic(config, folder)
        start = time.perf_counter()
        model = build_acoustic_model(config, ckpt, VOCAB)
        load_s = time.perf_counter() - start
        params = sum(p.numel() for p in model.parameters()) / 1e6
        inputs = _acoustic_inputs(config, args.seconds)
        noise_gen = torch.Generator().manual_seed(0)
        acoustic_s = _timed(lambda: model.render(inputs, generator=noise_gen))
        cond = model.fs2(inputs.tokens, inputs.mel2ph, inputs.f0, {})
        encoder_s = _timed(lambda: model.fs2(inputs.tokens, inputs.mel2ph, inputs.f0, {}))
        aux_s = _timed(lambda: model.aux_decoder(cond))
        print(
            f"acoustic (lynxnet2 1024x6, hidden 384, {params:.1f} M params, euler {config.sampling_steps} steps "
            f"over depth {config.default_depth}): load {load_s:.2f} s, {args.seconds:.0f} s phrase in "
            f"{acoustic_s:.2f} s -> RTF {acoustic_s / args.seconds:.3f} "
            f"(encoder {encoder_s:.3f} s, aux decoder {aux_s:.3f} s, sampler {acoustic_s - encoder_s - aux_s:.2f} s)"
        )
        fast_s = _timed(lambda: model.render(inputs, generator=noise_gen, precision="bf16"))
        print(f"acoustic fast mode (bf16 autocast): {fast_s:.2f} s -> RTF {fast_s / args.seconds:.3f}")
        mel = model.render(inputs, generator=noise_gen).mel.transpose(1, 2)
        for mini in (False, True):
            raw = {**DEFAULT_VOCODER, "mini_nsf": mini}
            vpath = _save_vocoder(raw, folder)
            start = time.perf_counter()
            vocoder = load_vocoder(vpath)
            vload_s = time.perf_counter() - start
            vparams = sum(p.numel() for p in vocoder.parameters()) / 1e6
            voc_s = _timed(lambda v=vocoder: v(mel, inputs.f0))
            with torch.autocast("cpu", dtype=torch.bfloat16):
                voc_fast_s = _timed(lambda v=vocoder: v(mel, inputs.f0))
            name = "pc-nsf (mini_nsf)" if mini else "classic NSF"
            print(
                f"vocoder {name} ({vparams:.1f} M params): load {vload_s:.2f} s, {args.seconds:.0f} s in "
                f"{voc_s:.2f} s -> RTF {voc_s / args.seconds:.3f}; bf16 autocast RTF {voc_fast_s / args.seconds:.3f}"
            )
        if args.profile:
            _profile("acoustic render", lambda: model.render(inputs, generator=noise_gen))
            _profile("vocoder (pc-nsf)", lambda: vocoder(mel, inputs.f0))
    from singer_tasks.phrase import Phrase
    from singer_tasks.voices.builtin.voice import BuiltinAcoustic

    dur = args.seconds / 20
    phrase = Phrase(0.0, ("a", "i") * 10, (dur,) * 20, (2,) * 10, ("A3",) * 10, (2 * dur,) * 10, (0,) * 10,
                    (220.0,) * int(args.seconds / 0.005))  # fmt: skip
    builtin_s = _timed(lambda: BuiltinAcoustic().render(phrase), repeats=1)
    print(f"builtin DSP voice: {args.seconds:.0f} s in {builtin_s:.2f} s -> RTF {builtin_s / args.seconds:.3f}")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mib:.0f} MiB (threads {threads})")


if __name__ == "__main__":
    main(sys.argv[1:])
