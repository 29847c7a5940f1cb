"""Side by side: our exact (fp32) and default (`auto`) renders against openvpi's own inference, same weights.

Default-size acoustic model (hidden 384, LYNXNet2 1024 x 6, euler 20 steps over depth 0.6) and the
NSF-HiFiGAN vocoder (pc-nsf / mini_nsf, openvpi's current release layout; `--classic` for the classic
source), random weights, a 10 s phrase, the process's pinned torch threads. Rows: `exact` (fp32),
`default` (the precision `auto` picks on this CPU: bf16, int8 or fp32), `preview` (the default precision
at the service's preview steps), and with `--levers` every other candidate precision. Every repeat runs
openvpi and each row in turn, and ratios are of medians from this one run. openvpi runs only when
OPENVPI_SRC names a checkout of github.com/openvpi/DiffSinger (see `benchmarks/openvpi_side.py`); without
it the comparison is skipped with a message. Also: cold start in a fresh process, peak RSS of a 30 s
render in a fresh process. Prints figures; asserts nothing about time.

`--assume-no-bf16` measures what a CPU without native bf16 runs: `auto` is chosen from this CPU's flags
minus avx512_bf16 / amx_bf16 (and bf16 is not a candidate). Run it with ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI
so that oneDNN's float32 kernels (ours and openvpi's) do not use AMX either.

`--device cuda` runs the same rows on a GPU (models, inputs and noise there; `default` is the GPU's half
type, bf16 or fp16): RTF and quality against exact on that device; openvpi, cold start and RSS are CPU
figures and are skipped there.

`OPENVPI_SRC=/tmp/openvpi/ds python -m benchmarks.bench_fast [--repeats N] [--seconds S] [--classic]
[--assume-no-bf16] [--levers] [--layout] [--device cpu|cuda]`

`--layout` also times the thread layout of a song (benchmarks/bench_layout.py): its phrases one at a time
with every core's threads, or one phrase per core at once.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from benchmarks import bench_layout, openvpi_side
from benchmarks.bench_voices import DEFAULT_ACOUSTIC, DEFAULT_VOCODER, VOCAB, _acoustic_inputs, _save_vocoder
from benchmarks.machine import cpu_line
from singer_tasks.settings import SingerSettings
from singer_tasks.voices.device import to_device
from singer_tasks.voices.diffsinger.acoustic.config import AcousticConfig
from singer_tasks.voices.diffsinger.acoustic.load import build_acoustic_model
from singer_tasks.voices.models import vocode, vocoder_network
from singer_tasks.voices.runtime import (
    BF16_FLAGS,
    configure_torch,
    cpu_flags,
    precision_for_cpu,
    resolve_precision,
    stage_precisions,
)
from singer_tasks.voices.vocoder.load import load_vocoder

ROOT = Path(__file__).resolve().parent.parent
BASE_CONFIG = ROOT / "tests/singer_tasks/fixtures/openvpi/main-lynxnet2-euler/config.yaml"
PREVIEW_STEPS: int = SingerSettings.model_fields["preview_steps"].default  # what a preview render runs


@dataclass(frozen=True)
class BenchRow:
    """One timed variant: a model precision (runtime.MODEL_PRECISIONS) and the sampler steps (None: the
    voice's own)."""

    name: str
    precision: str
    steps: int | None = None


def bench_variants(flags: Iterable[str], levers: bool = False) -> list[BenchRow]:
    """The rows for a CPU with these flags: exact, the default (what `auto` picks there), preview at the
    default precision; with `levers`, every other candidate precision the CPU has (bf16 only with bf16)."""
    have = frozenset(flags)
    default = _auto(have)
    rows = [BenchRow("exact", "fp32"), BenchRow("default", default), BenchRow("preview", default, PREVIEW_STEPS)]
    if levers:
        candidates = ["int8", "int8+fp32"] + (["bf16", "int8+bf16"] if have & BF16_FLAGS else [])
        rows += [BenchRow(p, p) for p in candidates if p != default]
    return rows


def _auto(flags: frozenset[str]) -> str:
    from singer_tasks.voices.diffsinger.acoustic.int8 import int8_supported

    return precision_for_cpu("auto", flags, int8_available=int8_supported())


def default_hparams() -> dict[str, Any]:
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
    args = _arguments(argv)

    rows = _rows(args)
    device = torch.device(args.device)
    hp = default_hparams()
    config = AcousticConfig.from_dict(hp)
    folder_src = _openvpi_source(device)
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
            _fresh_process(folder, voc_rel, args.seconds, rows[1].precision)
            return
        model = build_acoustic_model(config, ckpt, VOCAB).to(device)
        vocoder = load_vocoder(vpath).to(device)
        ov_vocoder = openvpi_side.OpenvpiVocoder(folder_src, vpath) if folder_src is not None else None
        host_inputs = _acoustic_inputs(config, args.seconds)
        inputs = to_device(host_inputs, device)
        torch.manual_seed(7)
        noise = torch.randn(1, 1, config.mel.n_mels, inputs.mel2ph.shape[1])  # what openvpi draws after seed 7
        noise = noise.to(device)

        results: dict[str, Any] = {}

        def run(name: str, precision: str, steps: int | None) -> None:
            # synthesize() split in its two stages so each is timed; the same calls, the same result
            denoiser, vocoder_precision = stage_precisions(precision)
            t0 = time.perf_counter()
            with torch.inference_mode():
                mel = model.render(inputs, noise=noise, precision=denoiser, steps=steps).mel
                _sync(device)
                t1 = time.perf_counter()
                wave = vocode(vocoder, mel, inputs.f0, vocoder_precision)
                _sync(device)
            t2 = time.perf_counter()
            results.setdefault(name, []).append({"acoustic": t1 - t0, "vocoder": t2 - t1, "whole": t2 - t0})
            results[name + ":out"] = (mel, wave)

        def run_openvpi() -> None:
            assert ov_acoustic is not None and ov_vocoder is not None
            t0 = time.perf_counter()
            mel = ov_acoustic(host_inputs.tokens, host_inputs.mel2ph, host_inputs.f0, noise_seed=7)
            t1 = time.perf_counter()
            wave = ov_vocoder(mel.transpose(1, 2), host_inputs.f0)
            t2 = time.perf_counter()
            results.setdefault("openvpi", []).append({"acoustic": t1 - t0, "vocoder": t2 - t1, "whole": t2 - t0})
            results["openvpi:out"] = (mel, wave)

        def runner(row: BenchRow) -> Callable[[], None]:
            return lambda: run(row.name, row.precision, row.steps)

        variants: list[tuple[str, Callable[[], None]]] = [(row.name, runner(row)) for row in rows]
        if ov_acoustic is not None:
            variants.insert(0, ("openvpi", run_openvpi))
        for _, fn in variants:  # warm-up: oneDNN kernels, allocator
            fn()
        results = {k: v for k, v in results.items() if k.endswith(":out")}
        for _ in range(args.repeats):
            for _, fn in variants:
                fn()
        _report(results, args.seconds, ov_acoustic is not None)
        _kernels(rows, model, vocoder)
        _quality(results, rows, vocoder, inputs)
        if not args.skip_subprocess and device.type == "cpu":
            _fresh_process(folder, voc_rel, args.seconds, rows[1].precision)
        if args.layout and device.type == "cpu":
            openvpi_s = statistics.median(r["whole"] for r in results["openvpi"]) if "openvpi" in results else None
            bench_layout.report(
                folder, voc_rel, VOCAB, args.seconds, rows[1].precision, configure_torch(), args.repeats, openvpi_s
            )
    print(f"peak RSS of this bench process {_maxrss_mib():.0f} MiB")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="phrase length (default 10 s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per variant (median reported)")
    parser.add_argument("--classic", action="store_true", help="classic NSF source instead of pc-nsf (mini_nsf)")
    parser.add_argument("--skip-subprocess", action="store_true", help="no cold-start / 30 s RSS measurements")
    parser.add_argument("--only-subprocess", action="store_true", help="only cold start and 30 s RSS")
    parser.add_argument(
        "--assume-no-bf16",
        action="store_true",
        help="choose as on a CPU without native bf16 (this CPU's flags less bf16)",
    )
    parser.add_argument("--levers", action="store_true", help="also time every other candidate precision")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the models run")
    parser.add_argument(
        "--layout", action="store_true", help="also time a song's phrases one at a time vs one per core"
    )
    args = parser.parse_args(argv or [])
    return args


def _openvpi_source(device: torch.device) -> Path | None:
    """openvpi's checkout to compare with (None, with the reason printed, when there is none or on a GPU)."""
    folder_src = openvpi_side.source_folder() if device.type == "cpu" else None
    if device.type != "cpu":
        print("openvpi comparison skipped: it is a CPU figure")
    elif folder_src is None:
        print(f"openvpi comparison skipped: set {openvpi_side.ENV} to a checkout of github.com/openvpi/DiffSinger")
    return folder_src


def _sync(device: torch.device) -> None:
    """Wait for the device's queued work (a GPU runs asynchronously: the clock must not stop early)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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
        for name in (n for n in med if n not in ("openvpi", "preview")):
            print(
                f"{name} / openvpi speed: acoustic {ov['acoustic'] / med[name]['acoustic']:.2f}x, "
                f"vocoder {ov['vocoder'] / med[name]['vocoder']:.2f}x"
            )
    print("(medians over the repeats of this run; every repeat, whole s:)")
    for name, runs in results.items():
        if not name.endswith(":out"):
            print(f"  {name:10} " + " ".join(f"{r['whole']:.2f}" for r in runs))


def _rows(args: argparse.Namespace) -> list[BenchRow]:
    """Pin torch's threads, read the CPU's flags (less bf16 with --assume-no-bf16), print them, and
    return the rows to time."""
    threads = configure_torch()
    flags = cpu_flags() or frozenset()
    if args.assume_no_bf16:  # such CPUs (Cascade Lake, Ice Lake, Zen 3) have no AMX either
        flags = flags - BF16_FLAGS - {"amx_int8", "amx_tile"}
    rows = bench_variants(flags, levers=args.levers)
    if args.device == "cuda":  # the GPU's own choice: its half type for both stages
        default = resolve_precision("auto", device="cuda")
        rows = [BenchRow("exact", "fp32"), BenchRow("default", default), BenchRow("preview", default, PREVIEW_STEPS)]
        print(f"device cuda: {torch.cuda.get_device_name()} (torch CUDA {torch.version.cuda})")
    print(
        f"torch {torch.__version__}, threads {threads}, phrase {args.seconds:g} s; {_cpu_line(flags)}; "
        f"auto picks {rows[1].precision}{' (assuming no bf16)' if args.assume_no_bf16 else ''}"
    )
    return rows


def _cpu_line(flags: frozenset[str]) -> str:
    """The CPU (benchmarks/machine.py) and the flags the precision choice read (less bf16 with
    --assume-no-bf16)."""
    import os  # the bench only prints it: which oneDNN ISA cap, if any, this run had

    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
    isa_cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "none")
    return (
        f"CPU {cpu_line()}; flags used {' '.join(f for f in wanted if f in flags) or '-'}, ONEDNN_MAX_CPU_ISA {isa_cap}"
    )


def _int8_denoiser_kernels(backbone: Any) -> str:
    session = getattr(backbone, "session", None)
    if session is not None:  # LYNXNet2 in ONNX Runtime
        ops = session.op_counts()
        return (
            f"denoiser: ONNX Runtime, {ops.get('MatMulInteger', 0)} MatMuls int8 (per-channel weights, dynamic "
            f"activations; MLAS VNNI kernels), {ops.get('MatMul', 0)} float32"
        )
    quantized = sum("quantized" in type(m).__module__ for m in backbone.modules())
    if not quantized:
        return "denoiser: nothing to quantize, fp32"
    return (
        f"denoiser: {quantized} Linear layers dynamic int8 (per-channel weights, torch.ao "
        f"{torch.backends.quantized.engine} engine: fbgemm/oneDNN VNNI), the rest fp32"
    )


def _int8_vocoder_kernels(vocoder: Any) -> str:
    from singer_tasks.voices.vocoder import int8

    network = vocoder_network(vocoder, "int8")
    return "-" if network is None else int8.describe(network)


def _kernels(rows: list[BenchRow], model: Any, vocoder: Any) -> None:
    """Which kernels each precision's denoiser ran (the layer types after conversion)."""
    capability = torch.backends.cpu.get_cpu_capability()
    on_gpu = next(model.parameters()).device.type == "cuda"
    for precision in dict.fromkeys(row.precision for row in rows):
        denoiser, vocoder_precision = stage_precisions(precision)
        if on_gpu:
            kind = "fp32 (cuBLAS/cuDNN, TF32 off)" if denoiser == "fp32" else f"{denoiser} autocast (cuBLAS/cuDNN)"
            print(f"kernels {precision}: denoiser and vocoder {kind}")
            continue
        if denoiser == "int8":
            detail = _int8_denoiser_kernels(model.int8_backbone())
        elif denoiser == "bf16":
            detail = "denoiser: bf16 autocast (oneDNN; native bf16: AMX / avx512_bf16)"
        else:
            detail = "denoiser: fp32 (oneDNN / MKL)"
        vocoder_detail = {
            "bf16": "bf16 autocast (oneDNN)",
            "int8": f"ONNX Runtime {_int8_vocoder_kernels(vocoder)}",
        }.get(vocoder_precision, "fp32 (oneDNN)")
        print(f"kernels {precision}: {detail}; vocoder: {vocoder_detail}; ATen vector ISA {capability}")


def _quality(results: dict[str, Any], rows: list[BenchRow], vocoder: Any, inputs: Any) -> None:
    exact_mel, exact_wave = results["exact:out"]
    if "openvpi:out" in results:
        ov_mel, ov_wave = results["openvpi:out"]
        print(
            f"exact vs openvpi: largest mel difference {float((exact_mel - ov_mel).abs().max()):.2e}, "
            f"waveform SNR {snr_db(ov_wave, exact_wave):.1f} dB"
        )
    for row in rows[1:]:
        mel, wave = results[f"{row.name}:out"]
        steps = f"{row.steps} steps, " if row.steps else ""
        line = (
            f"{row.name} ({steps}{row.precision}) vs exact: mean |log-mel diff| {log_mel_distance(mel, exact_mel):.4f} "
            f"(max {float((mel - exact_mel).abs().max()):.3f}); whole render SNR {snr_db(exact_wave, wave):.1f} dB"
        )
        vocoder_precision = stage_precisions(row.precision)[1]
        if vocoder_precision != "fp32" and not row.steps:
            alone = vocode(vocoder, exact_mel, inputs.f0, vocoder_precision)
            line += f"; {vocoder_precision} vocoder alone (same exact mel) SNR {snr_db(exact_wave, alone):.1f} dB"
        print(line)


def _fresh_process(folder: Path, voc_rel: str, seconds: float, default: str) -> None:
    cold = _subprocess_json(_COLD.format(folder=str(folder), vocab=VOCAB, voc=voc_rel))
    if "error" in cold:
        print(f"cold start: failed ({cold['error']})")
    else:
        print(
            f"cold start (fresh process -> both default-size models loaded): {cold['wall_s']:.2f} s wall "
            f"(import torch {cold['import_torch_s']:.2f} s, all imports {cold['imports_s']:.2f} s, ready "
            f"{cold['ready_s']:.2f} s after interpreter start; RSS {cold['rss_mib']:.0f} MiB)"
        )
    if "int8" in default:  # the int8 models are built on first use (an image build does it: voices prepare)
        built = _subprocess_json(
            _RSS.format(folder=str(folder), vocab=VOCAB, voc=voc_rel, seconds=0.5, precision=default)
        )
        figure = built.get("error") or f"{built['wall_s']:.1f} s, peak RSS {built['rss_mib']:.0f} MiB"
        print(f"int8 models built into the voice cache in a fresh process (a 0.5 s render): {figure}")
    for precision in dict.fromkeys((default, "fp32")):
        rss = _subprocess_json(
            _RSS.format(folder=str(folder), vocab=VOCAB, voc=voc_rel, seconds=3 * seconds, precision=precision)
        )
        label = "exact" if precision == "fp32" else f"default, {precision}"
        if "error" in rss:
            print(f"peak RSS {3 * seconds:g} s render ({label}): failed ({rss['error']})")
        else:
            print(f"peak RSS, fresh process rendering a {3 * seconds:g} s phrase ({label}): {rss['rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main(sys.argv[1:])
