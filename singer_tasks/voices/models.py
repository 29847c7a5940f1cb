"""Loaded voices (torch side): the built-in DSP voice and DiffSinger acoustic + NSF-HiFiGAN voices.

`load_voice` checks everything a render needs up front, so a bad voice fails at load with a message
naming the file and the problem, not halfway through a song.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from singer_tasks.errors import CheckpointError, VoiceConfigError
from singer_tasks.phrase import Phrase
from singer_tasks.settings import get_settings
from singer_tasks.voices.chain import Chain, ChainTrace, Expression, Source, check_expression, choose_speaker
from singer_tasks.voices.device import autocast, choose_device, to_device
from singer_tasks.voices.diffsinger.acoustic.inputs import Curve
from singer_tasks.voices.manifest import CURVE_NAMES, VoiceManifest
from singer_tasks.voices.runtime import onnx_threads, resolve_precision, stage_precisions

StepHook = Callable[[int, int], None]
# .ds field names of the per-job curve overrides (openvpi's): key shift is "gender", speed "velocity".
_DS_FIELDS = {"energy": "energy", "breathiness": "breathiness", "voicing": "voicing", "tension": "tension",
              "key_shift": "gender", "speed": "velocity"}  # fmt: skip


class Voice:
    """A loaded voice: `render_phrase` turns one phrase into audio at `sample_rate`.

    `chain` names the stages the voice has its own models for; `speakers` the speakers a job may choose
    (the first is the default). After each `render_phrase`, `last_trace` (per thread) holds what the
    acoustic model was fed, when the voice records it (None otherwise)."""

    manifest: VoiceManifest
    sample_rate: int
    precision: str = "fp32"  # what the voice computes in (runtime.MODEL_PRECISIONS); part of the cache key
    chain: Chain = Chain(("acoustic", "vocoder"))
    _local: threading.local

    @property
    def name(self) -> str:
        """The voice's name."""
        return self.manifest.name

    @property
    def speakers(self) -> tuple[str, ...]:
        """Speaker names a job may choose; the first is the default; () for a single-speaker voice."""
        return self.manifest.speakers

    def resolve_expression(self, expression: str | None) -> Expression:
        """The expression a render of this voice uses (see `Chain.resolve`)."""
        return self.chain.resolve(expression)

    def resolve_speaker(self, speaker: str | None) -> str | None:
        """The speaker a render uses: the requested one (RenderInputError if unknown), else the first."""
        return choose_speaker(self.name, self.speakers, speaker)

    @property
    def last_trace(self) -> ChainTrace | None:
        """What the last render_phrase of this thread fed the acoustic model (None if not recorded)."""
        local = self.__dict__.get("_local")
        return getattr(local, "trace", None) if local is not None else None

    def _record(self, trace: ChainTrace) -> None:
        local = self.__dict__.setdefault("_local", threading.local())
        local.trace = trace

    def check_phrase(self, phrase: Phrase) -> None:
        """Raise PhonemeError / RenderInputError if the voice cannot sing this phrase."""
        raise NotImplementedError

    def render_phrase(
        self, phrase: Phrase, *, steps: int | None = None, depth: float | None = None, on_step: StepHook | None = None,
        seed: int = 0, precision: str | None = None, expression: str | None = None, speaker: str | None = None,
    ) -> np.ndarray:  # fmt: skip
        """float32 waveform of one phrase (its own timeline, offset not applied).

        `precision` (exact, fast, auto; None = the voice's setting) matters only to torch voices;
        `expression` (voice, score; None = voice where the voice has timing or pitch models) and `speaker`
        (None = the voice's first) as in `singer_tasks.voices.chain`."""
        raise NotImplementedError


class BuiltinVoice(Voice):
    """The weight-free DSP voice; its vocoder passes the synthesised waveform through."""

    def __init__(self, manifest: VoiceManifest) -> None:
        from singer_tasks.voices.builtin.voice import BuiltinAcoustic

        self.manifest = manifest
        self.acoustic = BuiltinAcoustic()
        self.sample_rate = self.acoustic.mel_config.sample_rate

    def check_phrase(self, phrase: Phrase) -> None:
        self.acoustic.check_phonemes(phrase)

    def render_phrase(
        self, phrase: Phrase, *, steps: int | None = None, depth: float | None = None, on_step: StepHook | None = None,
        seed: int = 0, precision: str | None = None, expression: str | None = None, speaker: str | None = None,
    ) -> np.ndarray:  # fmt: skip
        check_expression(expression)
        self.resolve_speaker(speaker)
        rendering = self.acoustic.render(phrase, seed=seed)
        if on_step is not None:
            on_step(1, 1)
        return rendering.waveform


class DiffSingerVoice(Voice):
    """openvpi acoustic model + NSF-HiFiGAN vocoder, with the voice.yaml defaults, and optionally an openvpi
    variance model (duration, pitch, curves) in front (`variance:` in voice.yaml)."""

    def __init__(self, manifest: VoiceManifest) -> None:
        from singer_tasks.voices.diffsinger.acoustic.load import build_acoustic_model, read_config
        from singer_tasks.voices.diffsinger.acoustic.phonemes import PhonemeDictionary
        from singer_tasks.voices.vocoder.config import VocoderConfig
        from singer_tasks.voices.vocoder.load import load_vocoder

        if manifest.acoustic is None or manifest.vocoder is None:
            raise VoiceConfigError(f"voice {manifest.name!r} lacks its acoustic or vocoder section")
        self.manifest = manifest
        files = manifest.acoustic
        self.config = read_config(files.config)
        vocoder_config = VocoderConfig.read(manifest.vocoder.config)
        _check_mel(self.config.mel, vocoder_config.mel, files.config, manifest.vocoder.config)
        self.sample_rate = self.config.mel.sample_rate
        self.variance = None
        if manifest.variance is not None:
            from singer_tasks.voices.variance_stage import VarianceStage

            self.variance = VarianceStage(manifest.variance)
        predicted = self.variance.curve_names if self.variance is not None else ()
        self.predicted_curves = predicted  # the variance model writes them into the phrase (.ds fields)
        self.curves = _check_curves(manifest, self.config, predicted)
        self.speaker_ids = _speakers(manifest, self.config.use_spk_id, self.config.num_spk)
        self.dictionary = PhonemeDictionary.read(
            files.dictionaries, (*self.config.extra_phonemes, *files.extra_phonemes)
        )
        self.model = build_acoustic_model(self.config, files.checkpoint, self.dictionary.vocab_size)
        self.vocoder = load_vocoder(manifest.vocoder.checkpoint, manifest.vocoder.config)
        # Every torch model of the voice on one device (SINGER_DEVICE; a GPU where torch sees one).
        self.device = choose_device(get_settings().device)
        self.model.to(self.device)
        self.vocoder.to(self.device)
        if self.variance is not None:
            self.variance.model.to(self.device)
        self.precision = _voice_precision(manifest, self.device)  # one of runtime.MODEL_PRECISIONS
        stages = self.variance.stages if self.variance is not None else ()
        self.chain = Chain((*stages, "acoustic", "vocoder"))

    @property
    def speakers(self) -> tuple[str, ...]:
        """The acoustic model's speakers, the voice.yaml's chosen one first."""
        return tuple(self.speaker_ids)

    @property
    def speaker_id(self) -> int:
        """The default speaker's id (0 for a single-speaker model)."""
        return next(iter(self.speaker_ids.values()), 0)

    def check_phrase(self, phrase: Phrase) -> None:
        self.dictionary.encode(phrase.ph_seq, phrase.lang)
        if self.variance is not None:
            self.variance.model.dictionary.encode(phrase.ph_seq, phrase.lang)

    def _curves(self, phrase: Phrase) -> dict[str, float | Curve]:
        """voice.yaml defaults, overridden by the phrase's .ds curve fields."""
        curves: dict[str, float | Curve] = dict(self.curves)
        for name, ds_field in _DS_FIELDS.items():
            value = phrase.extra.get(ds_field)
            if (name not in curves and name not in self.predicted_curves) or value is None:
                continue
            if isinstance(value, (int, float)):
                curves[name] = (
                    _gender_to_shift(float(value), self.config.key_shift_range) if name == "key_shift" else float(value)
                )
                continue
            points = [float(x) for x in (value.split() if isinstance(value, str) else value)]
            if name == "key_shift":
                points = [_gender_to_shift(g, self.config.key_shift_range) for g in points]
            timestep = float(phrase.extra.get(f"{ds_field}_timestep", phrase.f0_timestep_s))
            curves[name] = Curve(points, timestep)
        return curves

    def render_phrase(
        self, phrase: Phrase, *, steps: int | None = None, depth: float | None = None, on_step: StepHook | None = None,
        seed: int = 0, precision: str | None = None, expression: str | None = None, speaker: str | None = None,
    ) -> np.ndarray:  # fmt: skip
        """As `Voice.render_phrase`; `precision` (exact, fast, auto) overrides the voice's setting."""
        from singer_tasks.voices.diffsinger.acoustic.inputs import phrase_inputs

        chosen = self.resolve_expression(expression)
        name = self.resolve_speaker(speaker)
        sung = phrase
        sources: tuple[Source, Source, Source] = ("score", "score", "defaults")
        if self.variance is not None:
            stage = self.variance.apply(phrase, chosen, speaker=name, seed=seed)
            sung, sources = stage.phrase, (stage.durations_from, stage.pitch_from, stage.curves_from)
        spk_id = self.speaker_ids[name] if name is not None else 0
        inputs = phrase_inputs(sung, self.config, self.dictionary, curves=self._curves(sung), spk_id=spk_id)
        defaults = self.manifest.defaults
        _, wave = synthesize(
            self.model, self.vocoder, inputs,
            precision=self.precision if precision is None else resolve_precision(precision, device=self.device),
            steps=steps if steps is not None else defaults.steps,
            depth=depth if depth is not None else defaults.depth,
            seed=seed, on_step=on_step,
        )  # fmt: skip
        self._record(_trace(sung, inputs, self.config.mel, chosen, name, sources))
        samples = wave.reshape(-1).numpy().astype(np.float32)
        if self.variance is None:
            return samples
        # Predicted durations are whole frames: keep the phrase's own length, as the other voices do.
        return fit_length(samples, round(phrase.duration_s * self.sample_rate))


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """`samples` cut or zero-padded to `length`."""
    if len(samples) >= length:
        return samples[:length]
    return np.concatenate([samples, np.zeros(length - len(samples), np.float32)])


def _trace(
    phrase: Phrase, inputs: Any, mel: Any, expression: Expression, speaker: str | None,
    sources: tuple[Source, Source, Source],
) -> ChainTrace:  # fmt: skip
    """What the acoustic model was fed (f0 per frame from `inputs.f0`, curves from `inputs.curves`)."""
    f0 = inputs.f0.reshape(-1).float().numpy().astype(np.float32)
    frame_s = float(mel.frame_s)
    curves = {k: v.reshape(-1).float().numpy().astype(np.float32) for k, v in inputs.curves.items()}
    return ChainTrace(
        expression=expression, speaker=speaker, durations_s=tuple(phrase.ph_dur_s),
        durations_from=sources[0], f0_times_s=(np.arange(len(f0)) * frame_s).astype(np.float64), f0_hz=f0,
        pitch_from=sources[1], curves=curves, curves_from=sources[2],
    )  # fmt: skip


def synthesize(
    model: Any,
    vocoder: Any,
    inputs: Any,
    *,
    precision: str,
    steps: int | None = None,
    depth: float | None = None,
    seed: int = 0,
    noise: torch.Tensor | None = None,
    on_step: StepHook | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Acoustic model then vocoder for one phrase: (mel [B, T, M] ln scale, float32 waveform [B, 1, N]),
    both on the host; the inputs (on the host) go to the device the models are on.

    precision (runtime.MODEL_PRECISIONS): "fp32" is exact (openvpi's output); otherwise the denoiser and
    the vocoder each run the kernel `stage_precisions` names (bf16 or fp16 autocast, int8 weights or
    float32). The encoder, aux decoder and the mel itself stay float32 either way. Noise is drawn on the
    host from `seed`, so a seed sings the same on every device.
    """
    from singer_tasks.voices.mel import to_natural_log

    denoiser, vocoder_precision = stage_precisions(precision)
    device = next(model.parameters()).device
    inputs = to_device(inputs, device)
    with torch.inference_mode():
        out = model.render(
            inputs, steps=steps, depth=depth, noise=noise, generator=torch.Generator().manual_seed(seed),
            on_step=on_step, precision=denoiser,
        )  # fmt: skip
        mel = to_natural_log(out.mel, model.config.mel.mel_base)
        wave = vocode(vocoder, mel, inputs.f0, vocoder_precision, seed)
    return mel.cpu(), wave.cpu()


def vocode(vocoder: Any, mel: torch.Tensor, f0: torch.Tensor, precision: str, seed: int = 0) -> torch.Tensor:
    """The vocoder stage at a stage precision: ln mel [B, T, M] and f0 [B, T] (on the vocoder's device) ->
    float32 waveform [B, 1, N] there; half types under autocast, int8 in the vocoder's int8 network."""
    with torch.inference_mode(), autocast(mel.device.type, precision):
        wave = vocoder(
            mel.transpose(1, 2), f0, generator=torch.Generator().manual_seed(seed),
            network=vocoder_network(vocoder, precision),
        )  # fmt: skip
    return wave.float()  # type: ignore[no-any-return]


def vocoder_network(vocoder: Any, precision: str) -> Any:
    """The network the vocoder runs for a stage precision: its int8 copy for "int8" where it can have one
    (see `vocoder.int8.supported`; else float32), None (its own) otherwise."""
    from singer_tasks.voices.vocoder import int8

    if precision != "int8" or not int8.supported(vocoder):
        return None
    return int8.int8_network(vocoder, get_settings().voice_cache_dir / "int8", onnx_threads())


def _voice_precision(manifest: VoiceManifest, device: str) -> str:
    """$SINGER_PRECISION if set, else the voice.yaml's defaults.precision (exact, fast or auto), on `device`."""
    return resolve_precision(get_settings().precision or manifest.defaults.precision, device=device)


def _gender_to_shift(gender: float, shift_range: tuple[float, float]) -> float:
    """openvpi's gender (-1..1) -> key shift in semitones within the training range."""
    lo, hi = shift_range
    return gender * hi if gender >= 0 else gender * abs(lo)


def _check_mel(acoustic: Any, vocoder: Any, acoustic_path: Path, vocoder_path: Path) -> None:
    fields = ("sample_rate", "n_mels", "hop_size", "win_size", "fft_size", "fmin", "fmax")
    diffs = [f"{f}: {getattr(acoustic, f)} vs {getattr(vocoder, f)}" for f in fields
             if getattr(acoustic, f) != getattr(vocoder, f)]  # fmt: skip
    if diffs:
        raise VoiceConfigError(
            f"mel settings differ between the acoustic config {acoustic_path} and the vocoder config "
            f"{vocoder_path} ({'; '.join(diffs)}): use a vocoder trained for this acoustic model"
        )


def _check_curves(manifest: VoiceManifest, config: Any, predicted: tuple[str, ...] = ()) -> dict[str, float]:
    needed = list(config.variance_embeds)
    needed += ["key_shift"] if config.use_key_shift_embed else []
    needed += ["speed"] if config.use_speed_embed else []
    missing = [name for name in needed if name not in manifest.defaults.curves and name not in predicted]
    if missing:
        raise VoiceConfigError(
            f"{manifest.folder / 'voice.yaml'}: the acoustic model takes the curve(s) {missing} as input; give "
            f"each a default under defaults.curves, or a variance: section whose model predicts them"
        )
    return {k: v for k, v in manifest.defaults.curves.items() if k in needed and k in CURVE_NAMES}


def _speakers(manifest: VoiceManifest, use_spk_id: bool, num_spk: int) -> dict[str, int]:
    """Speaker name -> id, the voice.yaml's chosen speaker first; {} for a single-speaker model."""
    if not use_spk_id:
        return {}
    files = manifest.acoustic
    assert files is not None
    speakers: Mapping[str, int] | None = files.speakers
    if speakers is None:
        spk_map = files.config.with_name("spk_map.json")
        try:
            speakers = json.loads(spk_map.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError) as e:
            raise VoiceConfigError(
                f"the acoustic model has {num_spk} speakers: name them under acoustic.speakers in voice.yaml "
                f"or provide {spk_map}"
            ) from e
    if not isinstance(speakers, dict) or not speakers:
        raise VoiceConfigError(f"voice {manifest.name!r}: the speaker map is empty")
    name = files.speaker or next(iter(speakers))
    if name not in speakers:
        raise VoiceConfigError(f"voice {manifest.name!r}: speaker {name!r} is not one of {sorted(speakers)}")
    for spk_name, spk in speakers.items():
        if not 0 <= int(spk) < num_spk:
            raise CheckpointError(
                f"voice {manifest.name!r}: speaker {spk_name!r} has id {spk}, outside the model's {num_spk} speakers"
            )
    ordered = {name: int(speakers[name])}
    ordered.update({str(k): int(v) for k, v in speakers.items() if k != name})
    return ordered
