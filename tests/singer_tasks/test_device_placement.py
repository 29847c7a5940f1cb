"""Every torch model renders on the device its weights are on: no tensor the models make mid-render stays
on the host. Checked on this GPU-less machine with torch's `meta` device, which refuses (as CUDA does)
any operation that mixes its tensors with host ones and has no data to read back, so a forgotten
`device=` or a `.item()` on the hot path fails here. Where a GPU is present, the CUDA tests also compare
its renders with the CPU's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from singer_tasks.errors import SettingsError
from singer_tasks.settings import get_settings
from singer_tasks.voices.device import autocast, to_device
from singer_tasks.voices.diffsinger.acoustic.model import AcousticInputs, DiffSingerAcoustic
from singer_tasks.voices.diffsinger.variance import VarianceInputs, VarianceModel
from singer_tasks.voices.runtime import resolve_precision, stage_precisions
from singer_tasks.voices.vocoder.load import load_vocoder
from tests.singer_tasks.test_speed_levers import _fixture

FIXTURES = Path(__file__).parent / "fixtures" / "openvpi"
ACOUSTIC = ["main-lynxnet2-euler", "main-allembeds-rk4", "legacy-wavenet-ddpm-ddim", "v25-lynxnet-rk2"]
VARIANCE = ["var-word-all", "var-multispk-rk4", "var-phoneme-ddpm-ddim"]
VOCODERS = ["voc-classic", "voc-mini"]
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here")


def _acoustic(name: str) -> tuple[DiffSingerAcoustic, AcousticInputs]:
    model, inputs, _ = _fixture(name)
    return model, inputs


def _variance(name: str) -> tuple[VarianceModel, VarianceInputs]:
    folder = FIXTURES / name
    spk_map = folder / "spk_map.json"
    model = VarianceModel.from_files(
        folder / "model.ckpt", folder / "config.yaml", folder / "dictionary.txt",
        spk_map if spk_map.exists() else None,
    )  # fmt: skip
    case = torch.load(folder / "case.pt", weights_only=True)
    return model, model.build_inputs(json.loads(case["phrase"]))


@pytest.mark.parametrize("name", ACOUSTIC)
def test_the_acoustic_model_renders_where_its_weights_are(name: str) -> None:
    model, inputs = _acoustic(name)
    host = model.render(inputs, steps=3, generator=torch.Generator().manual_seed(0))
    model.to("meta")
    out = model.render(to_device(inputs, "meta"), steps=3, generator=torch.Generator().manual_seed(0))
    assert out.mel.device.type == "meta" and out.mel.shape == host.mel.shape
    with pytest.raises((RuntimeError, NotImplementedError), match=r"meta|device"):  # the check can fail
        model.render(inputs, steps=3)


@pytest.mark.parametrize("name", VOCODERS)
def test_the_vocoder_renders_where_its_weights_are(name: str) -> None:
    vocoder = load_vocoder(FIXTURES / name / "model.ckpt")
    case = torch.load(FIXTURES / name / "case.pt", weights_only=True)
    mel, f0 = case["mel"].repeat(1, 1, 5), case["f0"].repeat(1, 5)  # long enough to go in chunks
    vocoder.to("meta")
    with torch.inference_mode():
        wave = vocoder(mel.to("meta"), f0.to("meta"), generator=torch.Generator().manual_seed(1))
    assert wave.device.type == "meta" and wave.shape == (1, 1, mel.shape[2] * 512)


@pytest.mark.parametrize("name", VARIANCE)
def test_the_variance_model_predicts_where_its_weights_are(name: str) -> None:
    model, inputs = _variance(name)
    host = model.predict(inputs, generator=torch.Generator().manual_seed(0))
    model.to("meta")
    assert model.device.type == "meta"
    with torch.inference_mode():
        on_meta = model.model.predict(to_device(inputs, "meta"), generator=torch.Generator().manual_seed(0))
    assert on_meta.mel2ph.device.type == "meta" and on_meta.mel2ph.shape == host.mel2ph.shape
    assert set(on_meta.variances) == set(host.variances)


def test_inputs_move_as_a_whole() -> None:
    _, inputs = _acoustic("main-allembeds-rk4")
    moved = to_device(inputs, "meta")
    assert moved is not inputs and inputs.tokens.device.type == "cpu"
    tensors = [moved.tokens, moved.mel2ph, moved.f0, *moved.curves.values()]
    assert moved.curves and all(t.device.type == "meta" for t in tensors)


def test_a_gpu_renders_in_its_half_type_and_a_cpu_never_in_fp16(monkeypatch: pytest.MonkeyPatch) -> None:
    # No GPU here: what torch.cuda would answer is the one thing replaced.
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("auto", device="cuda") == resolve_precision("fast", device="cuda") == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_precision("auto", device="cuda") == "fp16"
    assert resolve_precision("exact", device="cuda") == "fp32"
    assert stage_precisions("fp16") == ("fp16", "fp16")
    for flags in ({"avx512_bf16"}, {"avx512_vnni"}, {"amx_bf16"}, set()):
        assert "fp16" not in resolve_precision("fast", flags=flags)
    with autocast("cpu", "bf16"):
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.bfloat16
    with autocast("cpu", "int8"):  # int8 is weights, not autocast
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32


def test_a_voice_asked_for_a_gpu_it_lacks_fails_at_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from singer_tasks.voices.loader import load_voice
    from tests.singer_tasks.test_voices import _copy_tiny

    folder = _copy_tiny(tmp_path)
    monkeypatch.setenv("SINGER_DEVICE", "cpu")
    get_settings.cache_clear()
    voice: Any = load_voice(folder)
    assert voice.device == "cpu" and next(voice.model.parameters()).device.type == "cpu"
    if not torch.cuda.is_available():
        monkeypatch.setenv("SINGER_DEVICE", "cuda")
        get_settings.cache_clear()
        with pytest.raises(SettingsError, match="SINGER_DEVICE=cuda"):
            load_voice(folder)
    get_settings.cache_clear()


@needs_cuda
@pytest.mark.parametrize("name", ACOUSTIC)
def test_a_gpu_render_matches_the_cpu(name: str) -> None:
    model, inputs = _acoustic(name)
    noise = torch.randn(
        1, 1, model.config.mel.n_mels, inputs.mel2ph.shape[1], generator=torch.Generator().manual_seed(3)
    )
    host = model.render(inputs, noise=noise).mel
    model.to("cuda")
    exact = model.render(to_device(inputs, "cuda"), noise=noise).mel.cpu()
    assert (exact - host).abs().max().item() <= 1e-3
    half = resolve_precision("fast", device="cuda")
    fast = model.render(to_device(inputs, "cuda"), noise=noise, precision=half).mel.cpu()
    assert (fast - host).abs().mean().item() <= 0.02  # the fast mode's tolerance


@needs_cuda
@pytest.mark.parametrize("name", VOCODERS)
def test_a_gpu_vocoder_matches_the_cpu(name: str) -> None:
    vocoder = load_vocoder(FIXTURES / name / "model.ckpt")
    case = torch.load(FIXTURES / name / "case.pt", weights_only=True)
    with torch.inference_mode():
        host = vocoder(case["mel"], case["f0"], generator=torch.Generator().manual_seed(1))
        vocoder.to("cuda")
        gpu = vocoder(case["mel"].cuda(), case["f0"].cuda(), generator=torch.Generator().manual_seed(1)).cpu()
    err = (host.double() - gpu.double()).pow(2).sum() / host.double().pow(2).sum()
    assert 10 * torch.log10(1 / err.clamp_min(1e-30)) >= 30  # the fast mode's vocoder SNR, at least
