"""DiffSingerVariance (inference only): linguistic encoder -> durations -> pitch -> variance curves.

`DiffSingerVariance` holds the parameters under openvpi's names; `VarianceModel` bundles it with its
config, phoneme dictionary and speaker map, loads them from an experiment's files and runs `predict`.
Shapes: N tokens, W words, T frames, H hidden, F variance curves, R repeat bins; batch size 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from singer_tasks.errors import RenderInputError, VoiceConfigError
from singer_tasks.voices.device import to_device
from singer_tasks.voices.diffsinger.acoustic.encoder import mel2ph_to_dur, stretch_curve
from singer_tasks.voices.diffsinger.acoustic.layers import SinusoidalPosEmb
from singer_tasks.voices.diffsinger.acoustic.load import (
    check_vocab,
    load_strict,
    load_torch_file,
    model_state_dict,
    read_yaml_mapping,
)
from singer_tasks.voices.diffsinger.acoustic.phonemes import PhonemeDictionary
from singer_tasks.voices.diffsinger.acoustic.samplers import StepCallback
from singer_tasks.voices.diffsinger.variance.config import VarianceConfig
from singer_tasks.voices.diffsinger.variance.duration import length_regulate, rhythm_regulate
from singer_tasks.voices.diffsinger.variance.inputs import VarianceInputs, build_inputs, check_midi_range
from singer_tasks.voices.diffsinger.variance.linguistic import LinguisticEncoder
from singer_tasks.voices.diffsinger.variance.pitch import (
    MelodyEncoder,
    build_sampler,
    gather_frames,
    pitch_layout,
    retake_embedding,
    sample_repeated,
)
from singer_tasks.voices.diffsinger.variance.speakers import MixTensors, SpeakerMix, mix_embedding
from singer_tasks.voices.diffsinger.variance.variances import VARIANCE_SCALE, variance_layout


@dataclass
class VariancePrediction:
    """encoder_out [1, N, H]; ph_dur_raw [1, N] float frames before rhythm regulation (None when durations
    were given or the model has no duration predictor); ph_dur [1, N] int64 frames used (predicted or
    given); mel2ph [1, T]; pitch_midi [1, T] (base_pitch + predicted delta; None without pitch prediction);
    variances {name: [1, T]} (dB for energy/breathiness/voicing, logit for tension)."""

    encoder_out: Tensor
    ph_dur_raw: Tensor | None
    ph_dur: Tensor
    mel2ph: Tensor
    pitch_midi: Tensor | None
    variances: dict[str, Tensor] = field(default_factory=dict)


class _Noise:
    """Starting noise in openvpi's draw order: the given tensors first, then draws from `generator` (on the
    host, so that a seed gives the same noise on every device), each moved to `device`."""

    def __init__(self, given: Sequence[Tensor] | None, generator: torch.Generator | None, device: torch.device) -> None:
        self._given: Iterator[Tensor] = iter(given or ())
        self._generator = generator
        self._device = device

    def draw(self, shape: tuple[int, ...], what: str) -> Tensor:
        noise = next(self._given, None)
        if noise is None:
            return torch.randn(shape, generator=self._generator).to(self._device)
        if tuple(noise.shape) != shape:
            raise RenderInputError(f"the {what} noise has shape {tuple(noise.shape)}, expected {shape}")
        return noise.float().to(self._device)


class DiffSingerVariance(nn.Module):
    """Submodules as openvpi's: fs2, spk_embed, stretch_embed(_rnn), melody_encoder, delta_pitch_embed or
    base_pitch_embed, pitch_retake_embed, pitch_predictor, pitch_embed, variance_embeds, variance_predictor."""

    def __init__(self, config: VarianceConfig, vocab_size: int) -> None:
        super().__init__()
        self.config = config
        dim = config.hidden_size
        if config.use_stretch_embed and (config.predict_pitch or config.predict_variances):
            self.stretch_embed = nn.Sequential(
                SinusoidalPosEmb(dim), nn.Linear(dim, dim * 4), nn.GELU(), nn.Linear(dim * 4, dim)
            )
            self.stretch_embed_rnn = nn.GRU(dim, dim, 1, batch_first=True)
        if config.use_spk_id:
            self.spk_embed = nn.Embedding(config.num_spk, dim)
        self.fs2 = LinguisticEncoder(config, vocab_size)
        if config.predict_pitch:
            if config.use_melody_encoder:
                self.melody_encoder = MelodyEncoder(config)
                self.delta_pitch_embed = nn.Linear(1, dim)
            else:
                self.base_pitch_embed = nn.Linear(1, dim)
            self.pitch_retake_embed = nn.Embedding(2, dim)
            self.pitch_predictor = build_sampler(config, pitch_layout(config))
        if config.predict_variances:
            self.pitch_embed = nn.Linear(1, dim)
            self.variance_embeds = nn.ModuleDict({name: nn.Linear(1, dim) for name in config.variances.names})
            self.variance_predictor = build_sampler(config, variance_layout(config))

    def _speaker(self, ids: Tensor | None, values: Tensor | None) -> Tensor | None:
        if not self.config.use_spk_id:
            return None
        if ids is None or values is None:  # openvpi's fallback: speaker 0 (no mix given)
            device = self.spk_embed.weight.device
            ids, values = torch.zeros(1, 1, 1, dtype=torch.long, device=device), torch.ones(1, 1, 1, device=device)
        return mix_embedding(self.spk_embed.weight, MixTensors(ids, values))

    def predict(
        self,
        inputs: VarianceInputs,
        *,
        steps: int | None = None,
        algorithm: str | None = None,
        noise: Sequence[Tensor] | None = None,
        generator: torch.Generator | None = None,
        on_step: StepCallback | None = None,
    ) -> VariancePrediction:
        """Run every stage the model has. `noise`: starting noises in openvpi's order (pitch [1, 1, R, T],
        then variances [1, F, R, T]); missing ones are drawn from `generator`."""
        cfg = self.config
        steps = cfg.default_steps if steps is None else steps
        algorithm = algorithm or cfg.default_algorithm
        if steps < 1:
            raise RenderInputError(f"steps must be at least 1, got {steps}")
        draws = _Noise(noise, generator, inputs.tokens.device)
        frames = inputs.frames
        ph_spk = self._speaker(inputs.ph_spk_mix_id, inputs.ph_spk_mix_value)  # (1, 1 or N, H)
        spk = self._speaker(inputs.spk_mix_id, inputs.spk_mix_value)  # (1, 1 or T, H)
        encoder_out, dur_raw = self.fs2(
            inputs.tokens, inputs.midi, inputs.ph2word, ph_dur=inputs.ph_dur, word_dur=inputs.word_dur,
            spk_embed=ph_spk, languages=inputs.languages,
        )  # fmt: skip
        if inputs.mel2ph is not None:  # durations given: openvpi runs no duration prediction
            mel2ph, dur_raw = inputs.mel2ph, None
            ph_dur = inputs.ph_dur if inputs.ph_dur is not None else mel2ph_to_dur(mel2ph, inputs.tokens.shape[1])
        elif dur_raw is not None:
            ph_dur = rhythm_regulate(dur_raw, inputs.ph2word, inputs.word_dur)
            mel2ph = length_regulate(ph_dur, length=frames)  # padded with 0 (no token), or cut
        else:
            raise RenderInputError("this variance model does not predict durations: give ph_dur")
        result = VariancePrediction(encoder_out, dur_raw, ph_dur, mel2ph, None)
        if not (cfg.predict_pitch or cfg.predict_variances):
            return result

        condition = gather_frames(encoder_out, mel2ph)  # (1, T, H)
        if cfg.use_stretch_embed:
            stretch = torch.round(1000 * stretch_curve(mel2ph, mel2ph_to_dur(mel2ph, inputs.tokens.shape[1])))
            condition = condition + self.stretch_embed(stretch)
            rnn_out, _ = self.stretch_embed_rnn(condition)
            condition = condition + rnn_out
        if spk is not None:
            condition = condition + spk

        pitch = inputs.pitch
        if cfg.predict_pitch:
            delta = self._predict_pitch(inputs, condition, steps, algorithm, draws, generator, on_step)
            result.pitch_midi = inputs.base_pitch + delta
            if pitch is None:
                pitch = result.pitch_midi
        if cfg.predict_variances:
            if pitch is None:
                raise RenderInputError("this variance model predicts no pitch: give a pitch curve")
            result.variances = self._predict_variances(
                inputs, condition, pitch, steps, algorithm, draws, generator, on_step
            )
        return result

    def _predict_pitch(
        self,
        inputs: VarianceInputs,
        condition: Tensor,
        steps: int,
        algorithm: str,
        draws: _Noise,
        generator: torch.Generator | None,
        on_step: StepCallback | None,
    ) -> Tensor:
        """The pitch delta [1, T] in semitones above base_pitch."""
        cfg = self.config
        if cfg.use_melody_encoder:
            melody = self.melody_encoder(inputs.note_midi, inputs.note_rest, inputs.note_dur, inputs.note_glide)
            pitch_cond = condition + gather_frames(melody, inputs.mel2note)
        else:
            pitch_cond = condition
        retake_unset = inputs.pitch_retake is None or inputs.pitch is None
        retake = torch.ones_like(inputs.mel2note, dtype=torch.bool) if retake_unset else inputs.pitch_retake
        assert retake is not None
        pitch_cond = pitch_cond + retake_embedding(self.pitch_retake_embed, retake, inputs.expr)
        if cfg.use_melody_encoder:
            if retake_unset:  # generate from scratch
                delta_in = torch.zeros_like(inputs.base_pitch)
            else:
                assert inputs.pitch is not None
                delta_in = (inputs.pitch - inputs.base_pitch) * ~retake
            scale = 1 / 12 if cfg.use_variance_scaling else 1.0
            pitch_cond = pitch_cond + self.delta_pitch_embed(delta_in[:, :, None] * scale)
        else:
            base = inputs.base_pitch
            if not retake_unset:
                assert inputs.pitch is not None
                base = base * retake + inputs.pitch * ~retake
            scale = 1 / 128 if cfg.use_variance_scaling else 1.0
            pitch_cond = pitch_cond + self.base_pitch_embed(base[:, :, None] * scale)
        noise = draws.draw((1, 1, cfg.pitch.repeat_bins, inputs.frames), "pitch")
        delta = sample_repeated(
            self.pitch_predictor, pitch_cond, noise, steps=steps, algorithm=algorithm, generator=generator,
            on_step=on_step,
        )  # fmt: skip
        return delta.clamp(min=cfg.pitch.clip_min, max=cfg.pitch.clip_max)

    def _predict_variances(
        self,
        inputs: VarianceInputs,
        condition: Tensor,
        pitch: Tensor,
        steps: int,
        algorithm: str,
        draws: _Noise,
        generator: torch.Generator | None,
        on_step: StepCallback | None,
    ) -> dict[str, Tensor]:
        """Each variance curve [1, T], clamped to its range."""
        cfg = self.config
        names = cfg.variances.names
        scaling = cfg.use_variance_scaling
        var_cond = condition + self.pitch_embed(pitch[:, :, None] / 12 if scaling else pitch[:, :, None])
        if inputs.variance_retake is not None:
            embeds = []
            for name in names:
                given, retake = inputs.variances.get(name), inputs.variance_retake.get(name)
                if given is None or retake is None:
                    raise RenderInputError(f"variance retake needs the given '{name}' curve and its retake mask")
                scale = VARIANCE_SCALE[name] if scaling else 1.0
                embeds.append(self.variance_embeds[name](given[:, :, None] * scale) * ~retake[:, :, None])
            var_cond = var_cond + torch.stack(embeds, dim=-1).sum(-1)
        noise = draws.draw((1, len(names), cfg.variances.repeat_bins, inputs.frames), "variance")
        out = sample_repeated(
            self.variance_predictor, var_cond, noise, steps=steps, algorithm=algorithm, generator=generator,
            on_step=on_step,
        )  # fmt: skip
        curves = out.unbind(dim=1) if len(names) > 1 else (out,)  # F x (1, T)
        return {
            name: curve.clamp(min=lo, max=hi)
            for name, curve, (lo, hi) in zip(names, curves, cfg.variances.clamps, strict=True)
        }


class VarianceModel:
    """A loaded variance experiment: model, config, phoneme dictionary, speaker map."""

    def __init__(
        self,
        model: DiffSingerVariance,
        dictionary: PhonemeDictionary,
        spk_map: Mapping[str, int] | None = None,
    ) -> None:
        self.model = model
        self.config = model.config
        self.dictionary = dictionary
        self.spk_map = dict(spk_map or {})

    @property
    def device(self) -> torch.device:
        """Where the model's parameters are (its inputs are moved there, its predictions back)."""
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> VarianceModel:
        """Move the model to `device` (in place); returns self."""
        self.model.to(device)
        return self

    @classmethod
    def from_files(
        cls,
        checkpoint: Path,
        config: Path,
        dictionaries: Path | Mapping[str, Path],
        spk_map: Path | None = None,
    ) -> VarianceModel:
        """Load an openvpi variance experiment; `dictionaries` is one file or {language: file}.

        Raises VoiceConfigError (config, dictionary, speaker map) or CheckpointError (checkpoint does not
        match the config), each naming the file and the key at fault.
        """
        raw = read_yaml_mapping(config, "variance config")
        try:
            cfg = VarianceConfig.from_dict(raw)
        except VoiceConfigError as e:
            raise VoiceConfigError(f"{config}: {e}") from e
        paths = {"default": dictionaries} if isinstance(dictionaries, Path) else dict(dictionaries)
        dictionary = PhonemeDictionary.read(paths, cfg.extra_phonemes)
        speakers = _read_spk_map(spk_map) if spk_map is not None else None
        if cfg.use_spk_id:
            if not speakers:
                raise VoiceConfigError(f"{config} sets use_spk_id but no speaker map (spk_map.json) was given")
            bad = sorted(name for name, i in speakers.items() if not 0 <= i < cfg.num_spk)
            if bad:
                raise VoiceConfigError(f"{spk_map}: speakers {bad} have ids outside num_spk {cfg.num_spk}")
        state = model_state_dict(load_torch_file(checkpoint), checkpoint, "variance")
        try:
            model = DiffSingerVariance(cfg, dictionary.vocab_size)
        except ValueError as e:
            raise VoiceConfigError(f"{config}: cannot build the variance model: {e}") from e
        check_vocab(state, checkpoint, dictionary.vocab_size)
        load_strict(model, state, checkpoint)
        return cls(model.eval(), dictionary, speakers)

    def build_inputs(self, segment: Mapping[str, Any], *, speakers: SpeakerMix | None = None) -> VarianceInputs:
        """The model's inputs for one .ds segment (see inputs.build_inputs)."""
        return build_inputs(segment, self.config, self.dictionary, self.spk_map, speakers=speakers)

    @torch.inference_mode()
    def predict(
        self,
        inputs: VarianceInputs,
        *,
        steps: int | None = None,
        algorithm: str | None = None,
        noise: Sequence[Tensor] | None = None,
        generator: torch.Generator | None = None,
        on_step: StepCallback | None = None,
    ) -> VariancePrediction:
        """Durations -> pitch -> variances (each stage the checkpoint has). `steps` / `algorithm` default to
        the config's sampler; `noise` is openvpi's starting noise in draw order (pitch, then variances).
        Inputs on the host are moved to the model's device; the prediction comes back on the host."""
        if self.config.predict_dur:
            check_midi_range(inputs.midi)
        prediction = self.model.predict(
            to_device(inputs, self.device), steps=steps, algorithm=algorithm, noise=noise, generator=generator,
            on_step=on_step,
        )  # fmt: skip
        return to_device(prediction, "cpu")


def _read_spk_map(path: Path) -> dict[str, int]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise VoiceConfigError(f"speaker map {path} does not exist") from e
    except json.JSONDecodeError as e:
        raise VoiceConfigError(f"speaker map {path} is not valid JSON: {e}") from e
    if not isinstance(raw, dict) or not raw or not all(isinstance(v, int) for v in raw.values()):
        raise VoiceConfigError(f"speaker map {path} must be a non-empty {{name: id}} mapping")
    if len(set(raw.values())) != len(raw):
        raise VoiceConfigError(f"speaker map {path} gives two speakers the same id")
    return {str(k): int(v) for k, v in raw.items()}
