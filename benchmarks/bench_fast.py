"""Side by side: our exact (fp32) and fast (bf16) renders against openvpi's own inference, same weights.

Default-size acoustic model (hidden 384, LYNXNet2 1024 x 6, euler 20 steps over depth 0.6) and the
NSF-HiFiGAN vocoder (pc-nsf / mini_nsf, openvpi's current release layout; `--classic` for the classic
source), random weights, a 10 s phrase, the process's pinned torch threads. Every repeat runs openvpi,
exact and fast in turn, and ratios are of medians from this one run. openvpi runs only when OPENVPI_SRC
names a checkout of github.com/openvpi/DiffSinger (see `benchmarks/openvpi_side.py`); without it the
comparison is skipped with a message. Also: preview cost, cold start in a fresh process, peak RSS of a
30 s render in a fresh process. Prints figures; asserts nothing about time.

`OPENVPI_SRC=/tmp/openvpi/ds python -m benchmarks.bench_fast [--repeats N] [--seconds S] [--classic]`
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml

from benchmarks import openvpi_side
from benchmarks.bench_voices import DEFAULT_ACOUSTIC, DEFAULT_VOCODER, VOCAB, _acoustic_inputs, _save_vocoder
from singer_tasks.voices.diffsinger.acoustic.config import AcousticConfig
from singer_tasks.voices.diffsinger.acoustic.load import build_acoustic_model
from singer_tasks.voices.runtime import configure_torch, cpu_has_bf16
from singer_tasks.voices.vocoder.load import load_vocoder

ROOT = Path(__file__).resolve().parent.parent
BASE_CONFIG = ROOT / "tests/singer_tasks/fixtures/openvpi/main-lynxnet2-euler/config.yaml"
PREVIEW = {"steps": 8, "depth": None}


def _hparams() -> dict[str, Any]:
    """openvpi's flattened hparams at the default size (a fixture's full config, sizes overridden)."""
    hp: dict[str, Any] = yaml.safe_load(BASE_CONFIG.read_text())
    for key, value in DEFAULT_ACOUSTIC.items():
        hp[key] = {**hp[key], **value} if isinstance(value, dict) and isinstance(hp.get(key), dict) else value
    return hp


def log_mel_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean absolute difference of two ln-magnitude mels."""
    return float((a.float() - b.float()).abs().mean())


def snr_db(reference: torch.Tensor, other: torch.Tensor) -> float:
    """10 log10(|ref|^2 / |ref - other|^2)."""
    ref = reference.double().flatten()
    err = ref - other.double().flatten()
    return float(10 * torch.log10(ref.pow(2).sum() / err.pow(2).sum().clamp_min(1e-30)))


def _subprocess_json(code: str) -> dict[str, Any]:
    """Run `code` in a fresh interpreter; its last stdout line is JSON. Peak RSS there is read from VmHWM:
    a child's ru_maxrss on Linux starts from its parent's peak (it survives exec)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - start
    return result


_COLD = """
import json, time
t0 = time.perf_counter()
import torch
t_torch = time.perf_counter() - t0
from pathlib import Path
from singer_tasks.voices.diffsinger.acoustic.load import build_acoustic_model, read_config
from singer_tasks.voices.vocoder.load import load_vocoder
t_import = time.perf_counter() - t0
folder = Path({folder!r})
model = build_acoustic_model(read_config(folder / "config.yaml"), folder / "acoustic.ckpt", {vocab})
vocoder = load_vocoder(folder / {voc!r})
t_ready = time.perf_counter() - t0
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0].split()[1]
print(json.dumps({{"import_torch_s": t_torch, "imports_s": t_import, "ready_s": t_ready, "rss_mib": int(hwm) / 1024}}))
"""

_RSS = """
import json, torch
from pathlib import Path
from benchmarks.bench_voices import _acoustic_inputs
from singer_tasks.voices.diffsinger.acoustic.load import build_acoustic_model, read_config
from singer_tasks.voices.runtime import configure_torch
from singer_tasks.voices.vocoder.load import load_vocoder
from singer_tasks.voices.models import synthesize
configure_torch()
folder = Path({folder!r})
config = read_config(folder / "config.yaml")
model = build_acoustic_model(config, folder / "acoustic.ckpt", {vocab})
vocoder = load_vocoder(folder / {voc!r})
inputs = _acoustic_inputs(config, {seconds})
synthesize(model, vocoder, inputs, precision={precision!r})
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0].split()[1]
print(json.dumps({{"rss_mib": int(hwm) / 1024}}))
"""


def main(argv: list[str] | None = None) -> None:
    """Print the side-by-side table, quality figures, preview, cold start and peak RSS."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="phrase length (default 10 s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per variant (median reported)")
    parser.add_argument("--classic", action="store_true", help="classic NSF source instead of pc-nsf (mini_nsf)")
    parser.add_argument("--skip-subprocess", action="store_true", help="no cold-start / 30 s RSS measurements")
    parser.add_argument("--only-subprocess", action="store_true", help="only cold start and 30 s RSS")
    args = parser.parse_args(argv or [])

    threads = configure_torch()
    print(f"torch {torch.__version__}, threads {threads}, native bf16 {cpu_has_bf16()}, phrase {args.seconds:g} s")
    hp = _hparams()
    config = AcousticConfig.from_dict(hp)
    folder_src = openvpi_side.source_folder()
    if folder_src is None:
        print(f"openvpi comparison skipped: set {openvpi_side.ENV} to a checkout of github.com/openvpi/DiffSinger")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ckpt = folder / "acoustic.ckpt"
        (folder / "config.yaml").write_text(yaml.safe_dump(hp))
        ov_acoustic = None
        if folder_src is not None:
            ov_acoustic = openvpi_side.OpenvpiAcoustic(folder_src, hp, VOCAB)
            ov_acoustic.perturb(seed=1)
            state = ov_acoustic.state_dict()
        else:
            from singer_tasks.voices.diffsinger.acoustic.model import DiffSingerAcoustic

            state = {f"model.{k}": v for k, v in DiffSingerAcoustic(config, VOCAB).state_dict().items()}
        torch.save({"category": "acoustic", "state_dict": state}, ckpt)
        del state
        vpath = _save_vocoder({**DEFAULT_VOCODER, "mini_nsf": not args.classic}, folder)
        voc_rel = str(vpath.relative_to(folder))
        if args.only_subprocess:
            _fresh_process(folder, voc_rel, args.seconds)
            return
        model = build_acoustic_model(config, ckpt, VOCAB)
        vocoder = load_vocoder(vpath)
        ov_vocoder = openvpi_side.OpenvpiVocoder(folder_src, vpath) if folder_src is not None else None
        inputs = _acoustic_inputs(config, args.seconds)
        torch.manual_seed(7)
        noise = torch.randn(1, 1, config.mel.n_mels, inputs.mel2ph.shape[1])  # what openvpi draws after seed 7

        results: dict[str, Any] = {}

        def run(name: str, precision: str, **kw: Any) -> None:
            # synthesize() split in its two stages so each is timed; the same calls, the same result
            fast = precision == "bf16"
            t0 = time.perf_counter()
            with torch.inference_mode():
                mel = model.render(inputs, noise=noise, precision=precision, **kw).mel
                t1 = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast):
                    wave = vocoder(mel.transpose(1, 2), inputs.f0, generator=torch.Generator().manual_seed(0)).float()
            t2 = time.perf_counter()
            results.setdefault(name, []).append({"acoustic": t1 - t0, "vocoder": t2 - t1, "whole": t2 - t0})
            results[name + ":out"] = (mel, wave)

        def run_openvpi() -> None:
            assert ov_acoustic is not None and ov_vocoder is not None
            t0 = time.perf_counter()
            mel = ov_acoustic(inputs.tokens, inputs.mel2ph, inputs.f0, noise_seed=7)
            t1 = time.perf_counter()
            wave = ov_vocoder(mel.transpose(1, 2), inputs.f0)
            t2 = time.perf_counter()
            results.setdefault("openvpi", []).append({"acoustic": t1 - t0, "vocoder": t2 - t1, "whole": t2 - t0})
            results["openvpi:out"] = (mel, wave)

        variants: list[tuple[str, Callable[[], None]]] = [
            ("exact", lambda: run("exact", "fp32")),
            ("fast", lambda: run("fast", "bf16")),
            ("preview", lambda: run("preview", "bf16", **PREVIEW)),
        ]
        if ov_acoustic is not None:
            variants.insert(0, ("openvpi", run_openvpi))
        for _, fn in variants:  # warm-up: oneDNN kernels, allocator
            fn()
        results = {k: v for k, v in results.items() if k.endswith(":out")}
        for _ in range(args.repeats):
            for _, fn in variants:
                fn()
        _report(results, args.seconds, ov_acoustic is not None)
        _quality(results, vocoder, inputs)
        if not args.skip_subprocess:
            _fresh_process(folder, voc_rel, args.seconds)
    print(f"peak RSS of this bench process {_maxrss_mib():.0f} MiB")


def _maxrss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _report(results: dict[str, Any], seconds: float, with_openvpi: bool) -> None:
    med: dict[str, dict[str, float]] = {}
    for name, runs in results.items():
        if name.endswith(":out"):
            continue
        med[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(
        f"\n{'variant':10} {'whole s':>8} {'RTF':>6} {'acoustic RTF':>13} {'vocoder RTF':>12} {'x openvpi':>10} "
        f"{'x openvpi per repeat (median)':>30}"
    )
    for name, m in med.items():
        ratio = med["openvpi"]["whole"] / m["whole"] if with_openvpi else float("nan")
        # the same repeat's openvpi run against this one: robust to load that changes between repeats
        paired = (
            statistics.median(o["whole"] / r["whole"] for o, r in zip(results["openvpi"], results[name], strict=True))
            if with_openvpi
            else float("nan")
        )
        print(
            f"{name:10} {m['whole']:8.2f} {m['whole'] / seconds:6.3f} {m['acoustic'] / seconds:13.3f} "
            f"{m['vocoder'] / seconds:12.3f} {ratio:10.2f} {paired:30.2f}"
        )
    if with_openvpi:
        ov = med["openvpi"]
        for name in ("exact", "fast"):
            print(
                f"{name} / openvpi speed: acoustic {ov['acoustic'] / med[name]['acoustic']:.2f}x, "
                f"vocoder {ov['vocoder'] / med[name]['vocoder']:.2f}x"
            )
    print("(medians over the repeats of this run; every repeat, whole s:)")
    for name, runs in results.items():
        if not name.endswith(":out"):
            print(f"  {name:10} " + " ".join(f"{r['whole']:.2f}" for r in runs))


def _quality(results: dict[str, Any], vocoder: Any, inputs: Any) -> None:
    exact_mel, exact_wave = results["exact:out"]
    fast_mel, fast_wave = results["fast:out"]
    prev_mel, prev_wave = results["preview:out"]
    if "openvpi:out" in results:
        ov_mel, ov_wave = results["openvpi:out"]
        print(
            f"exact vs openvpi: largest mel difference {float((exact_mel - ov_mel).abs().max()):.2e}, "
            f"waveform SNR {snr_db(ov_wave, exact_wave):.1f} dB"
        )
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        voc_fast_on_exact = vocoder(exact_mel.transpose(1, 2), inputs.f0, generator=torch.Generator().manual_seed(0))
    print(
        f"fast vs exact: mean |log-mel diff| {log_mel_distance(fast_mel, exact_mel):.4f} (max "
        f"{float((fast_mel - exact_mel).abs().max()):.3f}); vocoder alone (same exact mel) SNR "
        f"{snr_db(exact_wave, voc_fast_on_exact.float()):.1f} dB; whole render SNR "
        f"{snr_db(exact_wave, fast_wave):.1f} dB"
    )
    print(
        f"preview ({PREVIEW['steps']} steps, bf16) vs exact final: mean |log-mel diff| "
        f"{log_mel_distance(prev_mel, exact_mel):.4f}, waveform SNR {snr_db(exact_wave, prev_wave):.1f} dB"
    )


def _fresh_process(folder: Path, voc_rel: str, seconds: float) -> None:
    cold = _subprocess_json(_COLD.format(folder=str(folder), vocab=VOCAB, voc=voc_rel))
    if "error" in cold:
        print(f"cold start: failed ({cold['error']})")
    else:
        print(
            f"cold start (fresh process -> both default-size models loaded): {cold['wall_s']:.2f} s wall "
            f"(import torch {cold['import_torch_s']:.2f} s, all imports {cold['imports_s']:.2f} s, ready "
            f"{cold['ready_s']:.2f} s after interpreter start; RSS {cold['rss_mib']:.0f} MiB)"
        )
    for precision in ("bf16", "fp32"):
        rss = _subprocess_json(
            _RSS.format(folder=str(folder), vocab=VOCAB, voc=voc_rel, seconds=3 * seconds, precision=precision)
        )
        label = "fast" if precision == "bf16" else "exact"
        if "error" in rss:
            print(f"peak RSS {3 * seconds:g} s render ({label}): failed ({rss['error']})")
        else:
            print(f"peak RSS, fresh process rendering a {3 * seconds:g} s phrase ({label}): {rss['rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main(sys.argv[1:])
