"""Fast mode (bf16) against exact mode (fp32), and the precision setting; tiny models, no timing.

The tolerances are the ones the fast mode promises: mean absolute log-mel difference at most 0.02 and a
vocoder waveform at least 30 dB SNR against float32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import yaml

from singer_tasks.errors import PrecisionError, SettingsError
from singer_tasks.settings import get_settings
from singer_tasks.voices.diffsinger.acoustic.layers import depthwise_conv_time
from singer_tasks.voices.diffsinger.acoustic.load import build_acoustic_model, read_config
from singer_tasks.voices.diffsinger.acoustic.model import AcousticInputs, DiffSingerAcoustic
from singer_tasks.voices.diffsinger.acoustic.phonemes import PhonemeDictionary
from singer_tasks.voices.models import synthesize
from singer_tasks.voices.runtime import cpu_has_bf16, precision_setting, resolve_precision
from singer_tasks.voices.vocoder.load import load_vocoder
from singer_tasks.voices.vocoder.nsf_hifigan import SourceNoise

FIXTURES = Path(__file__).parent / "fixtures" / "openvpi"
ACOUSTIC = ["main-lynxnet2-euler", "main-allembeds-rk4", "v25-lynxnet-rk2", "legacy-wavenet-ddpm-ddim"]
MEL_TOLERANCE = 0.02
SNR_DB = 30.0


def snr_db(reference: torch.Tensor, other: torch.Tensor) -> float:
    err = (reference.double() - other.double()).pow(2).sum()
    return float(10 * torch.log10(reference.double().pow(2).sum() / err))


def _acoustic(name: str) -> tuple[DiffSingerAcoustic, AcousticInputs, dict[str, Any]]:
    folder = FIXTURES / name
    config = read_config(folder / "config.yaml")
    vocab = PhonemeDictionary.read({"zh": folder / "dictionary.txt"}).vocab_size
    model = build_acoustic_model(config, folder / "model.ckpt", vocab)
    case = torch.load(folder / "case.pt", weights_only=True)
    extra = case["extra"]
    curves = {k: v for k, v in extra.items() if k != "spk_embed_id"}
    inputs = AcousticInputs(case["tokens"], case["mel2ph"], case["f0"], curves, spk_id=extra["spk_embed_id"])
    return model, inputs, case


@pytest.mark.parametrize("name", ACOUSTIC)
def test_fast_mel_within_tolerance_of_exact(name: str) -> None:
    model, inputs, case = _acoustic(name)
    exact = model.render(inputs, noise=case["noise"][0], precision="fp32").mel
    fast = model.render(inputs, noise=case["noise"][0], precision="bf16").mel
    assert fast.dtype == torch.float32 and fast.shape == exact.shape
    assert (exact - case["mel"]).abs().max() <= 1e-3  # exact mode is still openvpi's output
    diff = (fast - exact).abs()
    assert 0 < float(diff.mean()) <= MEL_TOLERANCE  # bf16 really ran, and stayed close


@pytest.mark.parametrize("name", ["voc-classic", "voc-mini"])
def test_fast_vocoder_snr_against_fp32(name: str) -> None:
    folder = FIXTURES / name
    vocoder = load_vocoder(folder / "model.ckpt")
    case = torch.load(folder / "case.pt", weights_only=True)
    with torch.inference_mode():
        exact = vocoder(case["mel"], case["f0"], SourceNoise.zeros())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fast = vocoder(case["mel"], case["f0"], SourceNoise.zeros()).float()
    assert (exact - case["wav_zero_noise"]).abs().max() <= 1e-4
    assert not torch.equal(fast, exact)
    assert snr_db(exact, fast) >= SNR_DB


def test_synthesize_fast_whole_render_close_to_exact() -> None:
    model, inputs, case = _acoustic("main-lynxnet2-euler")
    vocoder = load_vocoder(FIXTURES / "voc-mini" / "model.ckpt")
    mel, wave = synthesize(model, vocoder, inputs, precision="fp32", noise=case["noise"][0])
    fast_mel, fast_wave = synthesize(model, vocoder, inputs, precision="bf16", noise=case["noise"][0])
    assert (mel - case["mel"]).abs().max() <= 1e-3
    assert wave.dtype == fast_wave.dtype == torch.float32 and wave.shape == fast_wave.shape
    assert float((fast_mel - mel).abs().mean()) <= MEL_TOLERANCE
    assert snr_db(wave, fast_wave) >= SNR_DB


def test_depthwise_conv_matches_conv1d() -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(48, 48, 31, padding=15, groups=48)
    x = torch.randn(2, 70, 48)
    with torch.inference_mode():
        expected = conv(x.transpose(1, 2)).transpose(1, 2)
        got = depthwise_conv_time(x, conv)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    assert not torch.allclose(got, F.pad(expected, (0, 0, 1, 0))[:, :-1])  # positions line up


def test_precision_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SINGER_PRECISION", raising=False)
    assert precision_setting() == "auto"
    assert precision_setting("FP32") == "exact" and precision_setting("bf16") == "fast"
    monkeypatch.setenv("SINGER_PRECISION", "exact")
    get_settings.cache_clear()  # settings are read once per process
    assert precision_setting() == "exact" and resolve_precision() == "fp32"
    # an explicit value wins over the environment (this CPU's choice varies: AMX, Zen 4, VNNI only...)
    assert resolve_precision("fast", flags={"avx2", "amx_bf16"}) == "bf16"
    assert resolve_precision("fast") != "fp32"
    assert resolve_precision("auto", bf16_native=True, flags={"avx2"}) == "bf16"
    # without bf16: int8 where the CPU has VNNI (test_speed_levers.py covers the table), else exact
    assert resolve_precision("auto", bf16_native=False, flags={"avx2"}) == "fp32"
    monkeypatch.setenv("SINGER_PRECISION", "fp8")
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match=r"SINGER_PRECISION='fp8'.*'exact', 'fast' or 'auto'"):
        precision_setting()
    with pytest.raises(PrecisionError, match="precision='half'"):
        resolve_precision("half")


def test_cpu_bf16_detection_reads_the_flags() -> None:
    assert cpu_has_bf16("processor: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 avx512_vnni\n")
    assert cpu_has_bf16("flags\t\t: fpu amx_bf16 amx_tile\n")
    assert not cpu_has_bf16("flags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n")


def test_voice_precision_follows_env_then_voice_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from singer_tasks.voices.loader import load_voice
    from tests.singer_tasks.test_voices import _copy_tiny, tiny_phrase

    folder = _copy_tiny(tmp_path)
    monkeypatch.setenv("SINGER_PRECISION", "exact")
    get_settings.cache_clear()
    exact_voice = load_voice(folder)
    assert exact_voice.precision == "fp32"  # type: ignore[attr-defined]
    exact = exact_voice.render_phrase(tiny_phrase())
    # A per-render override runs fast mode on the same loaded voice; exact again is bitwise the same.
    fast = exact_voice.render_phrase(tiny_phrase(), precision="fast")
    assert fast.shape == exact.shape and not (fast == exact).all()
    assert (exact_voice.render_phrase(tiny_phrase(), precision="exact") == exact).all()
    monkeypatch.delenv("SINGER_PRECISION")
    get_settings.cache_clear()
    manifest = yaml.safe_load((folder / "voice.yaml").read_text())
    manifest["defaults"]["precision"] = "bf16"
    (folder / "voice.yaml").write_text(yaml.safe_dump(manifest))
    assert load_voice(folder).precision == resolve_precision("fast") != "fp32"  # type: ignore[attr-defined]
    manifest["defaults"].pop("precision")
    (folder / "voice.yaml").write_text(yaml.safe_dump(manifest))
    assert load_voice(folder).precision == resolve_precision("auto")  # type: ignore[attr-defined]
    with pytest.raises(PrecisionError, match="precision='turbo'"):
        exact_voice.render_phrase(tiny_phrase(), precision="turbo")


@pytest.mark.parametrize("name", ["voc-classic", "voc-mini"])
def test_vocoder_chunks_equal_a_whole_pass(name: str) -> None:
    folder = FIXTURES / name
    vocoder = load_vocoder(folder / "model.ckpt")
    case = torch.load(folder / "case.pt", weights_only=True)
    mel, f0 = case["mel"].repeat(1, 1, 3), case["f0"].repeat(1, 3)  # long enough for three chunks
    frames = mel.shape[-1]
    with torch.inference_mode():
        whole = vocoder(mel, f0, SourceNoise.zeros())
        vocoder.chunk_frames = frames // 6 + 1  # six chunks, with the default context
        chunked = vocoder(mel, f0, SourceNoise.zeros())
        vocoder.chunk_context = 0  # no context: chunk edges are heard, so the context is what makes it exact
        seams = vocoder(mel, f0, SourceNoise.zeros())
    assert chunked.shape == whole.shape == (1, 1, frames * 512)
    assert (chunked - whole).abs().max() <= 1e-5
    assert (seams - whole).abs().max() > 1e-3


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_two_renders_at_once_in_one_process_equal_one_at_a_time(precision: str) -> None:
    # A worker with worker_concurrency > 1 renders phrases on request threads that share one voice (its
    # models, the int8 sessions): each render must be what it is alone.
    from concurrent.futures import ThreadPoolExecutor

    model, inputs, case = _acoustic("main-lynxnet2-euler")
    vocoder = load_vocoder(FIXTURES / "voc-mini" / "model.ckpt")

    def render(noise_index: int) -> tuple[torch.Tensor, torch.Tensor]:
        noise = case["noise"][0] * (1.0 + 0.5 * noise_index)  # a different phrase start per index
        return synthesize(model, vocoder, inputs, precision=precision, noise=noise)

    alone = [render(i) for i in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        concurrent = list(pool.map(render, [0, 1, 0, 1, 0, 1]))
    assert not torch.equal(alone[0][1], alone[1][1])  # two different renders
    for (mel, wave), (ref_mel, ref_wave) in zip(concurrent, alone * 3, strict=True):
        assert torch.equal(mel, ref_mel) and torch.equal(wave, ref_wave)
