"""OpenUtau DiffSinger voicebank (ONNX) loading, graph reproduction and OpenUtau's input construction."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from singer_tasks.errors import VoiceConfigError
from singer_tasks.voices.voicebank import (
    Note,
    PhraseRequest,
    create_session,
    load_voicebank,
    render_phrase,
    run_acoustic,
    run_dur,
    run_linguistic,
    run_pitch,
    run_variance,
    run_vocoder,
)
from singer_tasks.voices.voicebank import builders as B
from singer_tasks.voices.voicebank.tables import load_dsdict
from tests.singer_tasks.voicebank_noise import noise_as_input

BANK = Path(__file__).parent / "fixtures" / "voicebanks" / "tiny-random"
CASES = BANK / "cases"

# The var-multispk-rk4 phrase the cases were made from (its case.pt `phrase`), in OpenUtau's terms: the first SP
# is the head pad (the rest note before C4 is the duration model's head padding), the last SP is a rest note's.
PHONEMES = ["b", "a", "d", "i", "a", "ng", "AP", "k", "e", "sh", "ir", "SP"]
NOTES = [
    Note(60, 250.0),
    Note(62, 200.0),
    Note(64, 300.0),
    Note(64, 150.0, rest=True),
    Note(67, 200.0),
    Note(69, 200.0),
    Note(71, 150.0, slur=True),
    Note(71, 150.0, rest=True),
]
HEAD_REST_MS = 200.0
PH_DUR_PRED = [7, 11, 15, 6, 17, 16, 10, 3, 10, 10, 7, 31, 13]  # the case's ph_dur (frames, pads included)
SPK_MIX_STEP_S = 0.05
SPK0_CURVE = np.round(1 - np.arange(37) / 36, 3)  # "1.000 0.972 ... 0.000" cross-fade spk0 -> spk2


def _case(name: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]]:
    data = np.load(CASES / f"{name}.npz")
    pick = {p: {k[len(p) :]: data[k] for k in data.files if k.startswith(p)} for p in ("in.", "out.", "noise.")}
    return pick["in."], pick["out."], pick["noise."], json.loads(str(data["meta"]))


def _session(meta: dict[str, Any], noise: dict[str, np.ndarray]) -> Any:
    model = BANK / meta["model"]
    return create_session(noise_as_input(model, list(noise)) if noise else model, threads=2)


def _squeeze(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v[0] for k, v in inputs.items()}


def _run_case(name: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    raw, out, noise, meta = _case(name)
    session, x = _session(meta, noise), _squeeze(raw)
    if name == "linguistic":
        enc, masks = run_linguistic(session, x["tokens"], word_div=x["word_div"], word_dur=x["word_dur"])
        return {"encoder_out": enc, "x_masks": masks}, out
    if name == "dur":
        return {
            "ph_dur_pred": run_dur(session, x["encoder_out"], x["x_masks"], x["ph_midi"], spk_embed=x["spk_embed"])
        }, out
    if name == "pitch":
        keys = ("encoder_out", "ph_dur", "note_midi", "note_dur", "pitch", "retake")
        pred = run_pitch(
            session, *(x[k] for k in keys), steps=int(raw["steps"][0]), note_rest=x["note_rest"], expr=x["expr"],
            spk_embed=x["spk_embed"], extra=noise,
        )  # fmt: skip
        return {"pitch_pred": pred}, out
    if name == "variance":
        curves = {n: x[n] for n in ("energy", "breathiness", "voicing", "tension")}
        preds = run_variance(
            session, x["encoder_out"], x["ph_dur"], x["pitch"], curves, x["retake"], steps=int(raw["steps"][0]),
            spk_embed=x["spk_embed"], extra=noise,
        )  # fmt: skip
        return {f"{k}_pred": v for k, v in preds.items()}, out
    if name == "acoustic":
        mel = run_acoustic(
            session, x["tokens"], x["durations"], x["f0"], steps=int(raw["steps"][0]), depth=float(raw["depth"][0]),
            gender=x["gender"], velocity=x["velocity"], spk_embed=x["spk_embed"],
            curves={n: x[n] for n in ("energy", "breathiness", "voicing", "tension")}, extra=noise,
        )  # fmt: skip
        return {"mel": mel}, out
    return {"waveform": run_vocoder(session, x["mel"], x["f0"])}, out


@pytest.mark.parametrize("name", ["linguistic", "dur", "pitch", "variance", "acoustic", "vocoder"])
def test_graph_functions_reproduce_cases(name: str) -> None:
    got, expected = _run_case(name)
    assert set(got) == set(expected)
    for key, ref in expected.items():
        value = got[key]
        assert value.shape == ref.shape[1:], key
        if ref.dtype == np.bool_:
            np.testing.assert_array_equal(value, ref[0])
        else:
            np.testing.assert_allclose(value, ref[0], atol=1e-4, rtol=0, err_msg=key)


# --- OpenUtau's input construction, checked against the cases' inputs ---


def _dsdict() -> Any:
    return load_dsdict(BANK / "dsdur" / "dsdict.yaml")


def test_duration_model_words_match_case() -> None:
    d = _dsdict()
    words = B.dur_words(PHONEMES, NOTES, 512 / 44100 * 1000, d.is_vowel, d.is_glide, head_ms=HEAD_REST_MS)
    raw, _, _, _ = _case("linguistic")
    assert words.names == ["SP", *PHONEMES]
    np.testing.assert_array_equal(words.div, raw["word_div"][0])
    np.testing.assert_array_equal(words.dur_frames, raw["word_dur"][0])
    table = json.loads((BANK / "dsdur" / "tiny.phonemes.json").read_text())
    np.testing.assert_array_equal(B.tokenize(words.names, table, "t"), raw["tokens"][0])


def test_vowel_word_division() -> None:
    """Pitch/variance word mode: a word per vowel. Over the padded tokens (tail SP its own word) it is the case's
    ph_num; OpenUtau's PaddedWordDivAndDur joins the tail pad to the last word."""
    d = _dsdict()
    raw, _, _, _ = _case("linguistic")
    inner = PHONEMES[:-1]  # the trailing SP of the case plays the tail pad here
    div, dur = B.word_div_split_tail(inner, PH_DUR_PRED, d.is_vowel)
    np.testing.assert_array_equal(div, raw["word_div"][0])
    np.testing.assert_array_equal(dur, raw["word_dur"][0])
    div, dur = B.word_div_and_dur(inner, PH_DUR_PRED, d.is_vowel)
    np.testing.assert_array_equal(div, [2, 2, 1, 2, 2, 2, 2])
    np.testing.assert_array_equal(dur, [18, 21, 17, 26, 13, 17, 44])


def test_frames_and_pads() -> None:
    frame_ms = 512 / 44100 * 1000
    np.testing.assert_array_equal(B.padded_phone_durations([100.0, 50.0], frame_ms), [8, 9, 4, 8])
    raw, _, _, _ = _case("pitch")
    note_ms = [200, 250, 200, 300, 150, 200, 200, 150, 150]
    np.testing.assert_array_equal(B.durations_ms_to_frames(note_ms, frame_ms), raw["note_dur"][0])
    rest = [True, False, False, False, True, False, False, False, True]
    np.testing.assert_array_equal(B.fill_rest_midi([0, 60, 62, 64, 0, 67, 69, 71, 0], rest), raw["note_midi"][0])


def _embeds(folder: Path, width: int) -> np.ndarray:
    return np.stack([np.fromfile(folder / f"tiny.spk{i}.emb", dtype="<f4") for i in range(3)]).reshape(3, width)


def _cross_fade(frames: int) -> np.ndarray:
    times = np.arange(frames) * 512 / 44100
    spk0 = np.interp(times, np.arange(37) * SPK_MIX_STEP_S, SPK0_CURVE)
    weights = np.zeros((frames, 3))
    weights[:, 0], weights[:, 2] = spk0, 1 - spk0
    return weights


def test_speaker_mixes_match_case() -> None:
    raw, _, _, _ = _case("dur")
    n = raw["ph_midi"].shape[1]
    per_token = np.tile([0.6, 0.4, 0.0], (n, 1))
    mixed = B.mix_speakers(_embeds(BANK / "dsdur", 32), per_token, np.zeros(n, int))
    np.testing.assert_allclose(mixed, raw["spk_embed"][0], atol=1e-6)
    for name, folder, width in (("pitch", BANK / "dspitch", 32), ("acoustic", BANK, 64)):
        raw, _, _, _ = _case(name)
        t = raw["spk_embed"].shape[1]
        mixed = B.mix_speakers(_embeds(folder, width), _cross_fade(t), np.zeros(t, int))
        np.testing.assert_allclose(mixed, raw["spk_embed"][0], atol=1e-5, err_msg=name)


def test_mix_normalisation_and_default() -> None:
    emb = np.eye(3, dtype=np.float32)
    out = B.mix_speakers(emb, [[0.2, 0.0, 0.0], [1.0, 1.0, 0.0]], [2, 0])
    np.testing.assert_allclose(out, [[0.2, 0.0, 0.8], [0.5, 0.5, 0.0]])


def test_acoustic_settings_match_case() -> None:
    raw, _, _, _ = _case("acoustic")
    _, pitch_out, _, _ = _case("pitch")
    np.testing.assert_allclose(B.midi_to_hz(pitch_out["pitch_pred"][0]), raw["f0"][0], rtol=1e-6)
    depth, speedup = B.sampling_settings(True, True, 0.6, 20)
    assert speedup is None and depth == pytest.approx(float(raw["depth"][0]))
    assert B.sampling_settings(False, True, 0.4, 20) == (400.0, 20)
    assert B.sampling_settings(False, False, 0.0, 20) == (None, 50)
    np.testing.assert_allclose(B.gender_from_genc([-100, 0, 100], (-5.0, 5.0)), [2.4, 0, -2.4], rtol=1e-6)
    np.testing.assert_allclose(B.velocity_from_velc([0, 100, 300]), [0.5, 1.0, 2.0])
    np.testing.assert_allclose(B.rescale_mel_base(np.ones(2), "e", "10"), [0.434294] * 2, rtol=1e-6)


def test_language_prefixes() -> None:
    table = {"SP": 0, "ja/a": 1, "a": 2, "k": 3}
    names = B.resolve_phonemes(["k", "a", "a"], ["ja", "ja", None], table, use_lang_id=True)
    assert names == ["k", "ja/a", "a"]
    np.testing.assert_array_equal(B.language_ids(names, {"ja": 3}), [0, 0, 3, 0, 0])


# --- loading ---


def test_load_folder() -> None:
    bank = load_voicebank(BANK, threads=1)
    assert bank.name == "tiny-random"
    assert bank.config.max_depth == pytest.approx(0.6) and bank.config.use_variable_depth
    assert bank.config.speakers == ("tiny.spk0", "tiny.spk1", "tiny.spk2")
    assert bank.tables.speaker_embeds is not None and bank.tables.speaker_embeds.shape == (3, 64)
    assert bank.dur is not None and bank.dur.dsdict.is_vowel("SP") and bank.dur.dsdict.is_glide("l")
    assert bank.vocoder_config is not None and bank.vocoder_config.pitch_controllable
    assert bank.speaker_index("spk2") == 2 and bank.speaker_index("tiny.spk1") == 1
    assert bank.session("acoustic") is bank.session("acoustic")
    assert bank.session("pitch").get_session_options().intra_op_num_threads == 1


def _zip(folder: Path, target: Path, prefix: str) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "cases" not in path.parts:
                zf.write(path, f"{prefix}/{path.relative_to(folder)}")
    return target


def test_load_zip(tmp_path: Path) -> None:
    archive = _zip(BANK, tmp_path / "tiny.zip", "Tiny Random v1")
    bank = load_voicebank(archive, threads=1, cache_dir=tmp_path / "cache", check_graphs=False)
    assert bank.name == "tiny-random" and bank.root.name == "Tiny Random v1"
    again = load_voicebank(archive, threads=1, cache_dir=tmp_path / "cache", check_graphs=False)
    assert again.root == bank.root
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [bank.root.parent.name]


def test_zip_with_parent_path_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("bank/character.txt", "name=x\n")
        zf.writestr("bank/../../escape.txt", "boo")
    with pytest.raises(VoiceConfigError, match=r"evil\.zip.*'\.\.'"):
        load_voicebank(archive, threads=1, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "escape.txt").exists()
    assert not any((tmp_path / "cache").glob("[!.]*"))


def test_zip_with_symlink_refused(tmp_path: Path) -> None:
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("bank/character.txt", "name=x\n")
        link = zipfile.ZipInfo("bank/dsconfig.yaml")
        link.external_attr = (0o120777) << 16  # S_IFLNK
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(VoiceConfigError, match=r"link\.zip: member 'bank/dsconfig\.yaml' is a link"):
        load_voicebank(archive, threads=1, cache_dir=tmp_path / "cache")


# --- broken voicebanks ---


@pytest.fixture()
def bank_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(BANK, tmp_path / "bank", ignore=shutil.ignore_patterns("cases")))


def _edit_yaml(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _broken_cases(bank: Path) -> dict[str, tuple[Any, str]]:
    return {
        "missing dsconfig": (lambda: (bank / "dsconfig.yaml").unlink(), r"dsconfig\.yaml: file not found"),
        "missing emb": (
            lambda: (bank / "dspitch" / "tiny.spk1.emb").unlink(),
            r"dspitch/dsconfig\.yaml: key 'speakers\[1\]'",
        ),
        "missing phonemes": (
            lambda: (bank / "tiny.phonemes.json").unlink(),
            r"dsconfig\.yaml: key 'phonemes'.*missing",
        ),
        "wrong type": (
            lambda: _edit_yaml(bank / "dsvariance" / "dsconfig.yaml", "hidden_size: 32", "hidden_size: big"),
            r"dsvariance/dsconfig\.yaml: key 'hidden_size' must be a int",
        ),
        "graph lacks input": (
            lambda: _edit_yaml(bank / "dsconfig.yaml", "use_lang_id: false", "use_lang_id: true"),
            r"tiny\.onnx: graph has no input 'languages', which key 'use_lang_id' of .*dsconfig\.yaml implies",
        ),
        "graph has extra input": (
            lambda: _edit_yaml(bank / "dsconfig.yaml", "use_tension_embed: true", "use_tension_embed: false"),
            r"tiny\.onnx: graph takes input\(s\) \['tension'\]",
        ),
        "near-miss key": (
            lambda: _edit_yaml(bank / "dsconfig.yaml", "max_depth: 0.6", "max_depth: 0.6\nuse_energy_embeds: true"),
            r"dsconfig\.yaml: unknown key 'use_energy_embeds'",
        ),
        "not diffsinger": (
            lambda: _edit_yaml(bank / "character.yaml", "singer_type: diffsinger", "singer_type: classic"),
            r"character\.yaml: key 'singer_type'",
        ),
        "missing dsdict": (
            lambda: (bank / "dsdur" / "dsdict.yaml").unlink(),
            r"dsdur/dsdict\.yaml: file not found, nor any dsdict-<lang>\.yaml",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing dsconfig",
        "missing emb",
        "missing phonemes",
        "wrong type",
        "graph lacks input",
        "graph has extra input",
        "near-miss key",
        "not diffsinger",
        "missing dsdict",
    ],
)
def test_broken_voicebank_refused(bank_copy: Path, case: str) -> None:
    breaker, message = _broken_cases(bank_copy)[case]
    breaker()
    with pytest.raises(VoiceConfigError, match=message):
        load_voicebank(bank_copy, threads=1)


def test_per_language_dsdicts_alone_type_the_phonemes(bank_copy: Path) -> None:
    # a bank may ship dsdict-<lang>.yaml without the generic dsdict.yaml; their symbols are typed together
    generic = load_dsdict(bank_copy / "dsdur" / "dsdict.yaml")
    text = (bank_copy / "dsdur" / "dsdict.yaml").read_text(encoding="utf-8")
    (bank_copy / "dsdur" / "dsdict.yaml").unlink()
    (bank_copy / "dsdur" / "dsdict-zh.yaml").write_text(text, encoding="utf-8")
    (bank_copy / "dsdur" / "dsdict-ja.yaml").write_text(
        "symbols:\n  - {symbol: ja/xx, type: vowel}\n", encoding="utf-8"
    )
    bank = load_voicebank(bank_copy, threads=1, check_graphs=False)
    assert bank.dur is not None and bank.dur.dsdict.path.name == "dsdict-ja.yaml"
    assert bank.dur.dsdict.types == {**generic.types, "ja/xx": "vowel"} and len(generic.types) > 3
    assert bank.dur.dsdict.is_vowel("ja/xx") and bank.dur.dsdict.is_glide("l")


def test_unknown_keys_ignored(bank_copy: Path) -> None:
    _edit_yaml(bank_copy / "dsconfig.yaml", "max_depth: 0.6", "max_depth: 0.6\nexport_date: 2025-01-01")
    bank = load_voicebank(bank_copy, threads=1, check_graphs=False)
    assert bank.config.ignored_keys == ("export_date",)


# --- the whole chain ---


def test_render_phrase_end_to_end() -> None:
    bank = load_voicebank(BANK, threads=1, check_graphs=False)
    result = render_phrase(bank, PhraseRequest(phonemes=PHONEMES, notes=NOTES, speakers={"spk1": 0.4}))
    n = len(PHONEMES)
    assert result.durations_ms.shape == (n,) and result.lead_ms > 0
    # aligned to the notes: everything after the leading consonant fills the notes exactly
    assert result.durations_ms.sum() - result.lead_ms == pytest.approx(sum(x.duration_ms for x in NOTES))
    t = int(result.frames.sum())
    assert result.frames[0] == 8 and result.frames[-1] == 8
    assert result.pitch.shape == (t,) and result.mel.shape == (t, 128)
    assert set(result.variances) == {"energy", "breathiness", "voicing", "tension"}
    assert result.waveform is not None and result.waveform.shape == (t * 512,)
    assert np.isfinite(result.mel).all() and np.isfinite(result.waveform).all()
    given = render_phrase(
        bank,
        PhraseRequest(phonemes=PHONEMES, notes=NOTES, durations_ms=result.durations_ms, lead_ms=result.lead_ms,
                      pitch=(np.array([0.0, 1000.0]), np.array([60.0, 67.0]))),
    )  # fmt: skip
    np.testing.assert_array_equal(given.frames, result.frames)
    assert given.pitch[0] == pytest.approx(60.0) and given.pitch[-1] == pytest.approx(67.0)
