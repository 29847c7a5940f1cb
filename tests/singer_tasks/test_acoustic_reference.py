"""The torch acoustic model against openvpi's own outputs (random-weight reference checkpoints)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from singer_tasks.errors import CheckpointError, PhonemeError, VoiceConfigError
from singer_tasks.voices.diffsinger.acoustic.load import build_acoustic_model, read_config
from singer_tasks.voices.diffsinger.acoustic.model import AcousticInputs, DiffSingerAcoustic
from singer_tasks.voices.diffsinger.acoustic.phonemes import PhonemeDictionary

FIXTURES = Path(__file__).parent / "fixtures" / "openvpi"
CASES = ["main-lynxnet2-euler", "main-allembeds-rk4", "v25-lynxnet-rk2", "legacy-wavenet-ddpm-ddim"]


def _load(folder: Path) -> tuple[DiffSingerAcoustic, PhonemeDictionary]:
    config = read_config(folder / "config.yaml")
    dictionary = PhonemeDictionary.read({"zh": folder / "dictionary.txt"})
    return build_acoustic_model(config, folder / "model.ckpt", dictionary.vocab_size), dictionary


def _inputs(case: dict) -> AcousticInputs:
    extra = case["extra"]
    curves = {k: v for k, v in extra.items() if k != "spk_embed_id"}
    return AcousticInputs(case["tokens"], case["mel2ph"], case["f0"], curves, spk_id=extra["spk_embed_id"])


@pytest.mark.parametrize("name", CASES)
def test_reproduces_openvpi_mel(name: str) -> None:
    folder = FIXTURES / name
    model, dictionary = _load(folder)
    case = torch.load(folder / "case.pt", weights_only=True)
    assert list(dictionary.phonemes) == case["phonemes"]
    assert len(case["noise"]) == 1
    out = model.render(_inputs(case), noise=case["noise"][0])  # steps, depth, sampler from config.yaml
    assert out.aux_mel is not None
    assert (out.aux_mel - case["aux_out"]).abs().max().item() <= 1e-3
    assert (out.mel - case["mel"]).abs().max().item() <= 1e-3
    # The reference is not trivially reproduced by the aux decoder alone.
    assert (case["mel"] - case["aux_out"]).abs().max().item() > 1e-2


@pytest.mark.parametrize("name", CASES)
def test_bf16_fast_mode_stays_close(name: str) -> None:
    folder = FIXTURES / name
    model, _ = _load(folder)
    case = torch.load(folder / "case.pt", weights_only=True)
    out = model.render(_inputs(case), noise=case["noise"][0], precision="bf16")
    assert out.mel.dtype == torch.float32
    assert (out.mel - case["mel"]).abs().max().item() <= 0.05  # the stated fast-mode tolerance
    with pytest.raises(ValueError, match="int4"):
        model.render(_inputs(case), noise=case["noise"][0], precision="int4")


def test_other_noise_gives_other_mel() -> None:
    folder = FIXTURES / "main-lynxnet2-euler"
    model, _ = _load(folder)
    case = torch.load(folder / "case.pt", weights_only=True)
    out = model.render(_inputs(case), generator=torch.Generator().manual_seed(3))
    assert (out.mel - case["mel"]).abs().max().item() > 1e-2


def test_steps_and_depth_are_per_render() -> None:
    folder = FIXTURES / "main-lynxnet2-euler"
    model, _ = _load(folder)
    case = torch.load(folder / "case.pt", weights_only=True)
    calls: list[tuple[int, int]] = []
    inputs = _inputs(case)
    out = model.render(inputs, noise=case["noise"][0], steps=5, depth=0.3, on_step=lambda i, n: calls.append((i, n)))
    assert calls == [(i, 5) for i in range(1, 6)]
    assert (out.mel - case["mel"]).abs().max().item() > 1e-3
    # depth 0 returns the aux decoder's mel unchanged (no sampling at all).
    zero = model.render(inputs, noise=case["noise"][0], depth=0.0)
    assert torch.allclose(zero.mel, case["aux_out"], atol=1e-4)


def test_truncated_checkpoint_names_the_file(tmp_path: Path) -> None:
    folder = FIXTURES / "main-lynxnet2-euler"
    bad = tmp_path / "model.ckpt"
    bad.write_bytes((folder / "model.ckpt").read_bytes()[:5000])
    config = read_config(folder / "config.yaml")
    with pytest.raises(CheckpointError, match=r"model\.ckpt"):
        build_acoustic_model(config, bad, 23)
    with pytest.raises(CheckpointError, match="does not exist"):
        build_acoustic_model(config, tmp_path / "absent.ckpt", 23)


class NotATensor:
    pass


def test_checkpoint_with_arbitrary_objects_is_not_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "model.ckpt"
    torch.save({"state_dict": {}, "optimizer": NotATensor()}, path)
    config = read_config(FIXTURES / "main-lynxnet2-euler" / "config.yaml")
    with pytest.raises(CheckpointError, match="other than tensors"):
        build_acoustic_model(config, path, 23)


def test_config_that_does_not_match_checkpoint_is_refused(tmp_path: Path) -> None:
    folder = FIXTURES / "main-lynxnet2-euler"
    text = (folder / "config.yaml").read_text().replace("use_stretch_embed: true", "use_stretch_embed: false")
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(CheckpointError, match="unexpected"):
        build_acoustic_model(read_config(tmp_path / "config.yaml"), folder / "model.ckpt", 23)
    # A dictionary of another size changes the embedding shape.
    with pytest.raises(CheckpointError, match="dictionary lacks"):
        build_acoustic_model(read_config(folder / "config.yaml"), folder / "model.ckpt", 30)


def test_bad_config_yaml(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("hidden_size: [unclosed\n")
    with pytest.raises(VoiceConfigError, match="not valid YAML"):
        read_config(tmp_path / "config.yaml")
    (tmp_path / "config.yaml").write_text("merged_phoneme_groups: [[zh/a, en/aa]]\n")
    with pytest.raises(VoiceConfigError, match="merged_phoneme_groups"):
        read_config(tmp_path / "config.yaml")
    (tmp_path / "config.yaml").write_text("backbone_type: transformer\n")
    with pytest.raises(VoiceConfigError, match="transformer"):
        read_config(tmp_path / "config.yaml")


def test_dictionary_names_unknown_phonemes(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "main-lynxnet2-euler" / "dictionary.txt", tmp_path / "d.txt")
    dictionary = PhonemeDictionary.read({"zh": tmp_path / "d.txt"})
    assert dictionary.encode(["SP", "a", "AP"]) == [2, 3, 1]
    with pytest.raises(PhonemeError, match=r"\['qq', 'xx'\]"):
        dictionary.encode(["a", "xx", "qq"])
