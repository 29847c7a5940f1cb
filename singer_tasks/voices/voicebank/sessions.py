"""ONNX Runtime sessions, and the check that a graph takes exactly the inputs its config implies.

OpenUtau builds each graph's feed from the config (``use_energy_embed`` -> ``energy``, ``speakers`` ->
``spk_embed``, ``use_lang_id`` -> ``languages`` ...) and refuses a session whose input names differ from the feed
(Onnx.VerifyInputNames). We make that check once, when the session is created, and also check element types and
the embedding width so that a mismatched export fails at load with the file and the key named, not mid-render.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from singer_tasks.errors import VoiceConfigError
from singer_tasks.voices.voicebank.config import DsConfig

F32, I64, BOOL = "tensor(float)", "tensor(int64)", "tensor(bool)"


@dataclass(frozen=True)
class InputSpec:
    """One expected graph input: element type, and the config key that implies it (for messages)."""

    dtype: str
    because: str


def create_session(model: Path | bytes, threads: int) -> ort.InferenceSession:
    """A CPU session: `threads` intra-op threads (the caller's CPU quota), one inter-op thread, sequential."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    source = str(model) if isinstance(model, Path) else model
    try:
        return ort.InferenceSession(source, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several unrelated classes for a bad file
        where = model if isinstance(model, Path) else "<model bytes>"
        raise VoiceConfigError(f"{where}: onnxruntime cannot load the graph ({exc})") from exc


def _sampling(cfg: DsConfig, with_depth: bool) -> dict[str, InputSpec]:
    """steps (+ float depth) with continuous acceleration, else speedup (+ int64 depth), as OpenUtau feeds."""
    key = "use_continuous_acceleration"
    if cfg.use_continuous_acceleration:
        specs = {"steps": InputSpec(I64, key)}
        if with_depth and cfg.use_variable_depth:
            specs["depth"] = InputSpec(F32, "use_variable_depth")
        return specs
    specs = {"speedup": InputSpec(I64, key)}
    if with_depth and cfg.use_variable_depth:
        specs["depth"] = InputSpec(I64, "use_variable_depth")
    return specs


def _common(cfg: DsConfig) -> dict[str, InputSpec]:
    specs: dict[str, InputSpec] = {}
    if cfg.speakers is not None:
        specs["spk_embed"] = InputSpec(F32, "speakers")
    return specs


def acoustic_inputs(cfg: DsConfig) -> dict[str, InputSpec]:
    """Inputs of the acoustic graph implied by the root dsconfig.yaml."""
    specs = {
        "tokens": InputSpec(I64, "phonemes"),
        "durations": InputSpec(I64, "acoustic"),
        "f0": InputSpec(F32, "acoustic"),
        **_sampling(cfg, with_depth=True),
        **_common(cfg),
    }
    if cfg.use_lang_id:
        specs["languages"] = InputSpec(I64, "use_lang_id")
    if cfg.use_key_shift_embed:
        specs["gender"] = InputSpec(F32, "use_key_shift_embed")
    if cfg.use_speed_embed:
        specs["velocity"] = InputSpec(F32, "use_speed_embed")
    for name in cfg.variance_embeds:
        specs[name] = InputSpec(F32, f"use_{name}_embed")
    return specs


def linguistic_inputs(cfg: DsConfig, word_mode: bool) -> dict[str, InputSpec]:
    """Linguistic encoder: word_div/word_dur in word mode (predict_dur, always for dsdur), else ph_dur."""
    specs = {"tokens": InputSpec(I64, "phonemes")}
    if word_mode:
        specs["word_div"] = InputSpec(I64, "predict_dur")
        specs["word_dur"] = InputSpec(I64, "predict_dur")
    else:
        specs["ph_dur"] = InputSpec(I64, "predict_dur")
    if cfg.use_lang_id:
        specs["languages"] = InputSpec(I64, "use_lang_id")
    return specs


def dur_inputs(cfg: DsConfig) -> dict[str, InputSpec]:
    """Duration predictor."""
    return {
        "encoder_out": InputSpec(F32, "dur"),
        "x_masks": InputSpec(BOOL, "dur"),
        "ph_midi": InputSpec(I64, "dur"),
        **_common(cfg),
    }


def pitch_inputs(cfg: DsConfig) -> dict[str, InputSpec]:
    """Pitch predictor (no note_glide: OpenUtau feeds none, so a graph wanting glides is refused)."""
    specs = {
        "encoder_out": InputSpec(F32, "pitch"),
        "ph_dur": InputSpec(I64, "pitch"),
        "note_midi": InputSpec(F32, "pitch"),
        "note_dur": InputSpec(I64, "pitch"),
        "pitch": InputSpec(F32, "pitch"),
        "retake": InputSpec(BOOL, "pitch"),
        **_sampling(cfg, with_depth=False),
        **_common(cfg),
    }
    if cfg.use_expr:
        specs["expr"] = InputSpec(F32, "use_expr")
    if cfg.use_note_rest:
        specs["note_rest"] = InputSpec(BOOL, "use_note_rest")
    return specs


def variance_inputs(cfg: DsConfig) -> dict[str, InputSpec]:
    """Multi-variance predictor."""
    specs = {
        "encoder_out": InputSpec(F32, "variance"),
        "ph_dur": InputSpec(I64, "variance"),
        "pitch": InputSpec(F32, "variance"),
        "retake": InputSpec(BOOL, "variance"),
        **_sampling(cfg, with_depth=False),
        **_common(cfg),
    }
    for name in cfg.predicted_variances:
        specs[name] = InputSpec(F32, f"predict_{name}")
    return specs


VOCODER_INPUTS = {"mel": InputSpec(F32, "model"), "f0": InputSpec(F32, "model")}


def check_graph(
    session: ort.InferenceSession,
    model: Path,
    config: Path,
    expected: Mapping[str, InputSpec],
    outputs: tuple[str, ...],
    embed_width: int | None = None,
) -> None:
    """Refuse a graph whose inputs (names, types), outputs or spk_embed width differ from the config's."""
    actual = {i.name: i for i in session.get_inputs()}
    for name, spec in expected.items():
        if name not in actual:
            raise VoiceConfigError(
                f"{model}: graph has no input {name!r}, which key {spec.because!r} of {config} implies"
            )
        if actual[name].type != spec.dtype:
            raise VoiceConfigError(
                f"{model}: input {name!r} is {actual[name].type}, expected {spec.dtype} "
                f"(key {spec.because!r} of {config})"
            )
    extra = sorted(set(actual) - set(expected))
    if extra:
        raise VoiceConfigError(
            f"{model}: graph takes input(s) {extra} that {config} does not imply (OpenUtau would not feed them)"
        )
    names = {o.name for o in session.get_outputs()}
    missing = [o for o in outputs if o not in names]
    if missing:
        raise VoiceConfigError(f"{model}: graph lacks output(s) {missing} needed with {config}")
    if embed_width is not None and "spk_embed" in actual:
        width = actual["spk_embed"].shape[-1]
        if isinstance(width, int) and width != embed_width:
            raise VoiceConfigError(
                f"{model}: input 'spk_embed' is {width} wide, key 'hidden_size' of {config} says {embed_width}"
            )
