"""The torch variance model against openvpi's own outputs (random-weight reference checkpoints).

Each folder's case.pt holds a .ds segment, openvpi's preprocessed inputs for it, the starting noises it
drew and every output of its variance inference; see fixtures/openvpi/README.md.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from singer_tasks.errors import CheckpointError, PhraseFormatError, VoiceConfigError
from singer_tasks.voices.diffsinger.variance import VarianceInputs, VarianceModel, write_back
from singer_tasks.voices.diffsinger.variance.dsout import write_predictions
from singer_tasks.voices.diffsinger.variance.inputs import fill_rests, note_to_midi

FIXTURES = Path(__file__).parent / "fixtures" / "openvpi"
CASES = ["var-word-all", "var-multispk-rk4", "var-phoneme-ddpm-ddim"]
NUMERIC_KEYS = ("ph_dur", "f0_seq", "energy", "breathiness", "voicing", "tension")

_models: dict[str, VarianceModel] = {}


def _model(name: str) -> VarianceModel:
    if name not in _models:
        folder = FIXTURES / name
        spk_map = folder / "spk_map.json"
        _models[name] = VarianceModel.from_files(
            folder / "model.ckpt", folder / "config.yaml", folder / "dictionary.txt",
            spk_map if spk_map.exists() else None,
        )  # fmt: skip
    return _models[name]


def _case(name: str) -> dict[str, Any]:
    return torch.load(FIXTURES / name / "case.pt", weights_only=True)  # type: ignore[no-any-return]


def _close(got: torch.Tensor | None, want: torch.Tensor, atol: float, label: str) -> None:
    assert got is not None, label
    assert tuple(got.shape) == tuple(want.shape), f"{label}: shape {tuple(got.shape)} vs {tuple(want.shape)}"
    assert got.dtype == want.dtype, f"{label}: dtype {got.dtype} vs {want.dtype}"
    err = (got.double() - want.double()).abs().max().item()
    assert err <= atol, f"{label}: max error {err} > {atol}"


@pytest.mark.parametrize("name", CASES)
def test_inputs_match_openvpi_preprocessing(name: str) -> None:
    model, case = _model(name), _case(name)
    assert list(model.dictionary.phonemes) == case["phonemes"]
    assert model.config.timestep == case["timestep"]
    inputs = model.build_inputs(json.loads(case["phrase"]))
    for key, want in case["inputs"].items():
        tol = 1e-5 if want.is_floating_point() else 0.0
        _close(getattr(inputs, key), want, tol, key)


@pytest.mark.parametrize("name", CASES)
def test_predictions_match_openvpi(name: str) -> None:
    model, case = _model(name), _case(name)
    pred = model.predict(VarianceInputs(**case["inputs"]), noise=case["noise"])
    _close(pred.encoder_out, case["encoder_out"], 1e-4, "encoder_out")
    if case["ph_dur_raw"] is None:
        assert pred.ph_dur_raw is None
    else:
        # frames up to ~180: float32 spacing there is 1.5e-5, so allow a relative part
        _close(pred.ph_dur_raw, case["ph_dur_raw"], 1e-4 + 1e-6 * float(case["ph_dur_raw"].abs().max()), "ph_dur_raw")
        assert torch.equal(pred.ph_dur, case["ph_dur_pred"])
    assert torch.equal(pred.mel2ph, case["mel2ph"])
    _close(pred.pitch_midi, case["pitch_pred"], 1e-4, "pitch_pred")
    assert list(pred.variances) == list(case["variances_pred"])
    for key, want in case["variances_pred"].items():
        _close(pred.variances[key], want, 1e-4, key)


@pytest.mark.parametrize("name", CASES)
def test_write_back_formats_as_openvpi(name: str) -> None:
    case = _case(name)
    segment = json.loads(case["phrase"])
    out = write_predictions(
        segment, case["timestep"], ph_dur=case["ph_dur_pred"], pitch_midi=case["pitch_pred"],
        variances=case["variances_pred"],
    )  # fmt: skip
    assert json.dumps(out) == case["ds_out"]  # same keys, order and text
    assert segment == json.loads(case["phrase"])  # the input segment is not modified


@pytest.mark.parametrize("name", CASES)
def test_segment_to_ds_end_to_end(name: str) -> None:
    """phrase -> inputs -> predictions -> .ds, compared with openvpi's .ds number by number."""
    model, case = _model(name), _case(name)
    segment = json.loads(case["phrase"])
    pred = model.predict(model.build_inputs(segment), noise=case["noise"])
    out, want = write_back(segment, pred, model.config.timestep), json.loads(case["ds_out"])
    assert list(out) == list(want)
    for key in want:
        if key not in NUMERIC_KEYS:
            assert out[key] == want[key], key
            continue
        got_values = [float(x) for x in out[key].split()]
        want_values = [float(x) for x in want[key].split()]
        assert len(got_values) == len(want_values), key
        # one rounding step of the printed precision, plus the model's float32 tolerance (f0 in Hz)
        tol = {"ph_dur": 1e-6, "f0_seq": 0.11}.get(key, 1e-4 + 1e-4)
        assert max(abs(a - b) for a, b in zip(got_values, want_values, strict=True)) <= tol, key


def test_noise_and_steps_matter() -> None:
    model, case = _model("var-word-all"), _case("var-word-all")
    inputs = VarianceInputs(**case["inputs"])
    other = model.predict(inputs, generator=torch.Generator().manual_seed(1))
    assert other.pitch_midi is not None
    assert (other.pitch_midi - case["pitch_pred"]).abs().max().item() > 1e-2
    assert torch.equal(other.ph_dur, case["ph_dur_pred"])  # durations draw no noise
    calls: list[tuple[int, int]] = []
    fewer = model.predict(inputs, noise=case["noise"], steps=3, on_step=lambda i, n: calls.append((i, n)))
    assert calls == [(i, 3) for i in (1, 2, 3)] * 2  # pitch, then variances
    assert fewer.pitch_midi is not None
    assert (fewer.pitch_midi - case["pitch_pred"]).abs().max().item() > 1e-3


def test_wrong_noise_shape_is_refused() -> None:
    model, case = _model("var-word-all"), _case("var-word-all")
    with pytest.raises(Exception, match="pitch noise has shape"):
        model.predict(VarianceInputs(**case["inputs"]), noise=[torch.zeros(1, 1, 8, 156)])


def test_note_names() -> None:
    assert note_to_midi("C4") == 60 and note_to_midi("A4") == 69
    assert note_to_midi("C#4") == 61 and note_to_midi("Db4") == 61 and note_to_midi("B#3") == 60
    assert note_to_midi("A4+50") == 69.5 and note_to_midi("C-1") == 0
    with pytest.raises(PhraseFormatError, match="H4"):
        note_to_midi("H4")
    # rests take the nearest note's key, a tie going to the earlier note
    import numpy as np

    keys = np.array([-1, 60, -1, 64, -1, -1], np.float32)
    assert fill_rests(keys, keys < 0).tolist() == [60, 60, 60, 64, 64, 64]


def test_bad_segments_are_named() -> None:
    model, case = _model("var-phoneme-ddpm-ddim"), _case("var-phoneme-ddpm-ddim")
    segment = json.loads(case["phrase"])
    with pytest.raises(PhraseFormatError, match="needs 'ph_dur'"):
        model.build_inputs({k: v for k, v in segment.items() if k != "ph_dur"})
    with pytest.raises(PhraseFormatError, match="ph_num sums to"):
        model.build_inputs({**segment, "ph_num": "2 2 1"})
    multi = _model("var-multispk-rk4")
    multi_segment = json.loads(_case("var-multispk-rk4")["phrase"])
    with pytest.raises(PhraseFormatError, match="multi-speaker"):
        multi.build_inputs({k: v for k, v in multi_segment.items() if k not in ("spk_mix", "ph_spk_mix")})
    with pytest.raises(PhraseFormatError, match="nobody"):
        multi.build_inputs(multi_segment, speakers={"nobody": 1.0})
    solo = multi.build_inputs(multi_segment, speakers={"spk1": 2.0})
    assert solo.spk_mix_value is not None and solo.spk_mix_value.tolist() == [[[1.0]]]


def _copy(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(FIXTURES / name, folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


def _edit_config(folder: Path, **changes: Any) -> None:
    raw = yaml.safe_load((folder / "config.yaml").read_text())
    for key, value in changes.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    (folder / "config.yaml").write_text(yaml.safe_dump(raw))


def _load(folder: Path) -> VarianceModel:
    spk = folder / "spk_map.json"
    return VarianceModel.from_files(
        folder / "model.ckpt", folder / "config.yaml", folder / "dictionary.txt", spk if spk.exists() else None
    )


def test_checkpoint_not_matching_config_is_named(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "var-word-all")
    _edit_config(folder, use_glide_embed=True)  # the checkpoint has no glide embedding
    with pytest.raises(CheckpointError, match=r"model\.ckpt.*note_glide_embed"):
        _load(folder)
    folder = _copy(tmp_path / "b", "var-word-all")
    _edit_config(folder, predict_tension=False)  # the checkpoint predicts a fourth curve
    with pytest.raises(CheckpointError, match=r"unexpected.*variance_embeds\.tension"):
        _load(folder)


def test_missing_or_bad_config_keys_are_named(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "var-word-all")
    _edit_config(folder, predict_dur=None)
    with pytest.raises(VoiceConfigError, match=r"config\.yaml.*'predict_dur'"):
        _load(folder)
    folder = _copy(tmp_path / "b", "var-word-all")
    _edit_config(folder, pitch_prediction_args=None)
    with pytest.raises(VoiceConfigError, match="'pitch_prediction_args'"):
        _load(folder)
    folder = _copy(tmp_path / "c", "var-word-all")
    _edit_config(folder, use_stretch_embed=None)
    with pytest.raises(VoiceConfigError, match="'use_stretch_embed'"):
        _load(folder)
    folder = _copy(tmp_path / "d", "var-word-all")
    _edit_config(folder, diffusion_type="flow-matching")
    with pytest.raises(VoiceConfigError, match="flow-matching"):
        _load(folder)


def test_wrong_category_and_missing_files(tmp_path: Path) -> None:
    acoustic = FIXTURES / "main-lynxnet2-euler" / "model.ckpt"
    folder = FIXTURES / "var-word-all"
    with pytest.raises(CheckpointError, match="'acoustic' model where a 'variance' one"):
        VarianceModel.from_files(acoustic, folder / "config.yaml", folder / "dictionary.txt")
    with pytest.raises(CheckpointError, match="does not exist"):
        VarianceModel.from_files(tmp_path / "none.ckpt", folder / "config.yaml", folder / "dictionary.txt")
    with pytest.raises(VoiceConfigError, match="does not exist"):
        VarianceModel.from_files(folder / "model.ckpt", tmp_path / "none.yaml", folder / "dictionary.txt")
    multi = FIXTURES / "var-multispk-rk4"
    with pytest.raises(VoiceConfigError, match="speaker map"):
        VarianceModel.from_files(multi / "model.ckpt", multi / "config.yaml", multi / "dictionary.txt")
