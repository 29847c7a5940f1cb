"""Voice manifests and loading: the built-in default, a tiny DiffSinger voice, and clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from singer_tasks.errors import CheckpointError, PhonemeError, VoiceConfigError, VoiceNotFound
from singer_tasks.phrase import Phrase
from singer_tasks.voices import loader, runtime
from singer_tasks.voices.loader import load_voice
from singer_tasks.voices.manifest import find_manifest
from singer_tasks.voices.models import BuiltinVoice, DiffSingerVoice
from taskkit.cpus import quota_from

FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "voices" / "tiny"
REPO_VOICES = Path(__file__).resolve().parents[2] / "checkpoints"


def tiny_phrase(offset_s: float = 0.0) -> Phrase:
    phonemes = ("SP", "b", "a", "sh", "ir", "AP")
    durs = (0.1, 0.05, 0.3, 0.05, 0.3, 0.1)
    f0 = tuple([0.0] * 30 + [220.0] * 70 + [0.0] * 80)
    return Phrase(offset_s, phonemes, durs, (1, 2, 2, 1), ("rest", "A3", "A3", "rest"), (0.1, 0.35, 0.35, 0.1),
                  (0, 0, 0, 0), f0, lang="zh")  # fmt: skip


def _copy_tiny(tmp_path: Path) -> Path:
    """A self-contained copy of the tiny voice (files beside voice.yaml) that tests may break."""
    folder = tmp_path / "tiny"
    src = FIXTURES / "openvpi"
    (folder / "acoustic").mkdir(parents=True)
    (folder / "vocoder").mkdir()
    for name in ("model.ckpt", "config.yaml", "dictionary.txt"):
        shutil.copy(src / "main-allembeds-rk4" / name, folder / "acoustic" / name)
    for name in ("model.ckpt", "config.json"):
        shutil.copy(src / "voc-mini" / name, folder / "vocoder" / name)
    manifest = yaml.safe_load((TINY / "voice.yaml").read_text())
    manifest["acoustic"].update(checkpoint="acoustic/model.ckpt", config="acoustic/config.yaml",
                                dictionaries={"zh": "acoustic/dictionary.txt"})  # fmt: skip
    manifest["vocoder"] = {"checkpoint": "vocoder/model.ckpt"}
    (folder / "voice.yaml").write_text(yaml.safe_dump(manifest))
    return folder


def _edit_manifest(folder: Path, **changes: object) -> None:
    manifest = yaml.safe_load((folder / "voice.yaml").read_text())
    manifest.update(changes)
    (folder / "voice.yaml").write_text(yaml.safe_dump(manifest))


def test_builtin_is_the_default_and_needs_no_files(tmp_path: Path) -> None:
    voice = load_voice(root=REPO_VOICES)
    assert isinstance(voice, BuiltinVoice) and voice.manifest.kind == "builtin"
    assert set(voice.manifest.languages) == {"en", "zh", "ja", "de", "it", "la", "fr", "es", "haw"}
    assert isinstance(load_voice("builtin", root=tmp_path), BuiltinVoice)  # no checkpoints folder at all
    with pytest.raises(VoiceNotFound, match="no voice 'nobody'"):
        load_voice("nobody", root=REPO_VOICES)


def test_tiny_voice_renders_a_phrase_end_to_end() -> None:
    voice = load_voice(TINY)
    assert isinstance(voice, DiffSingerVoice)
    assert voice.speaker_id == 1  # "tenor"
    assert voice.sample_rate == 44100
    steps: list[int] = []
    wave = voice.render_phrase(tiny_phrase(), on_step=lambda i, n: steps.append(n))
    frames = round(0.9 / (512 / 44100) + 0.5)
    assert wave.dtype == np.float32 and wave.shape == (frames * 512,)
    assert np.all(np.isfinite(wave)) and np.abs(wave).max() > 1e-3
    assert steps == [4] * 4  # defaults.steps from voice.yaml
    # Per-render steps and a per-job curve (the .ds "energy" field) change the output.
    assert not np.allclose(voice.render_phrase(tiny_phrase(), steps=2), wave)
    louder = Phrase(**{**tiny_phrase().__dict__, "extra": {"energy": "-5 -5", "energy_timestep": "0.5"}})
    assert not np.allclose(voice.render_phrase(louder), wave)
    # Same seed, same audio.
    assert np.array_equal(voice.render_phrase(tiny_phrase()), wave)


def test_bf16_voice_renders_close_to_fp32(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SINGER_PRECISION", raising=False)
    folder = _copy_tiny(tmp_path)
    manifest = yaml.safe_load((folder / "voice.yaml").read_text())
    manifest["defaults"]["precision"] = "fp32"  # explicit: without it the voice follows the CPU (auto)
    (folder / "voice.yaml").write_text(yaml.safe_dump(manifest))
    exact = load_voice(folder).render_phrase(tiny_phrase())
    manifest["defaults"]["precision"] = "bf16"
    (folder / "voice.yaml").write_text(yaml.safe_dump(manifest))
    fast = load_voice(folder).render_phrase(tiny_phrase())
    assert fast.dtype == np.float32 and fast.shape == exact.shape
    assert 0 < np.abs(fast - exact).max() < 0.1 * np.abs(exact).max()


def test_phoneme_missing_from_the_dictionary(tmp_path: Path) -> None:
    voice = load_voice(TINY)
    bad = Phrase(0.0, ("SP", "zz", "a"), (0.1, 0.1, 0.2), (1, 2), ("rest", "A3"), (0.1, 0.3), (0, 0), (0.0, 220.0))
    with pytest.raises(PhonemeError, match="zz"):
        voice.check_phrase(bad)


def test_missing_and_truncated_files_are_named(tmp_path: Path) -> None:
    folder = _copy_tiny(tmp_path)
    assert isinstance(load_voice(folder), DiffSingerVoice)
    ckpt = folder / "acoustic" / "model.ckpt"
    ckpt.write_bytes(ckpt.read_bytes()[:20000])
    with pytest.raises(CheckpointError, match=r"acoustic/model\.ckpt"):
        load_voice(folder)
    ckpt.unlink()
    with pytest.raises(CheckpointError, match=r"acoustic/model\.ckpt does not exist"):
        load_voice(folder)


def test_dictionary_missing_a_phoneme_of_the_model(tmp_path: Path) -> None:
    folder = _copy_tiny(tmp_path)
    dictionary = folder / "acoustic" / "dictionary.txt"
    lines = [line for line in dictionary.read_text().splitlines() if not line.startswith("shi")]
    dictionary.write_text("\n".join(lines) + "\n")  # drops the phonemes sh and ir
    with pytest.raises(CheckpointError, match="embeds 22 phonemes but the voice's phoneme dictionary yields 20"):
        load_voice(folder)


def test_mel_mismatch_between_acoustic_and_vocoder(tmp_path: Path) -> None:
    folder = _copy_tiny(tmp_path)
    config = json.loads((folder / "vocoder" / "config.json").read_text())
    config["fmax"] = 8000
    (folder / "vocoder" / "config.json").write_text(json.dumps(config))
    with pytest.raises(VoiceConfigError, match=r"fmax: 16000.0 vs 8000.0.*") as info:
        load_voice(folder)
    assert "config.yaml" in str(info.value) and "config.json" in str(info.value)


def test_enabled_curves_need_defaults(tmp_path: Path) -> None:
    folder = _copy_tiny(tmp_path)
    _edit_manifest(folder, defaults={"curves": {"energy": -20.0, "key_shift": 0.0}})
    with pytest.raises(VoiceConfigError, match=r"\['breathiness', 'voicing', 'tension', 'speed'\]"):
        load_voice(folder)
    _edit_manifest(folder, defaults={"curves": {"loudness": 1.0}})
    with pytest.raises(VoiceConfigError, match="loudness"):
        load_voice(folder)


def test_manifest_errors(tmp_path: Path) -> None:
    folder = _copy_tiny(tmp_path)
    _edit_manifest(folder, licence=None)
    with pytest.raises(VoiceConfigError, match="licence"):
        find_manifest(str(folder))
    _edit_manifest(folder, licence="x", kind="onnx")
    with pytest.raises(VoiceConfigError, match="kind"):
        find_manifest(str(folder))
    _edit_manifest(folder, kind="diffsinger", acoustic={"speakers": {"a": 0}})
    with pytest.raises(VoiceConfigError, match="dictionaries"):
        find_manifest(str(folder))
    _edit_manifest(folder, acoustic=yaml.safe_load((TINY / "voice.yaml").read_text())["acoustic"],
                   defaults={"precision": "fp8"})  # fmt: skip
    with pytest.raises(VoiceConfigError, match="precision"):
        find_manifest(str(folder))
    (folder / "voice.yaml").write_text("name: [\n")
    with pytest.raises(VoiceConfigError, match="not valid YAML"):
        find_manifest(str(folder))


def test_speaker_must_exist(tmp_path: Path) -> None:
    folder = _copy_tiny(tmp_path)
    manifest = yaml.safe_load((folder / "voice.yaml").read_text())
    manifest["acoustic"]["speaker"] = "soprano"
    (folder / "voice.yaml").write_text(yaml.safe_dump(manifest))
    with pytest.raises(VoiceConfigError, match="soprano"):
        load_voice(folder)


def test_runtime_quota_threads_and_cache() -> None:
    assert quota_from("max 100000", None, None) is None
    assert quota_from("150000 100000", None, None) == 1.5
    assert quota_from(None, "-1", "100000") is None
    assert quota_from(None, "200000", "100000") == 2.0
    quota = runtime.cpu_quota()
    assert 1 <= quota <= (len(__import__("os").sched_getaffinity(0)))
    threads = runtime.configure_torch()
    assert threads == quota and torch.get_num_threads() == threads
    assert runtime.configure_torch(threads=1) == 1
    loader.clear_voice_cache()
    first = loader.get_voice(TINY)
    assert torch.get_num_threads() == 1  # loading a voice keeps the process's thread setting
    assert loader.get_voice(TINY) is first
    loader.clear_voice_cache()
    assert loader.get_voice(TINY) is not first
    runtime.configure_torch()


def test_manifests_are_readable_without_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, singer_tasks.voices.manifest as v; v.find_manifest('builtin'); assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
