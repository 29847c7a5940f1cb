"""Phrase-level entry point: phonemes + notes (+ optional durations, pitch, speakers) -> curves, mel, waveform.

Time is in milliseconds with 0 at the start of the first note; curves are (times_ms, values) pairs sampled
linearly at each graph's frame times and held beyond their ends, or a constant. Each graph gets the frames of
its own config (hop sizes may differ), the SP pads included: frame i lies at start - 8 frames + i frames.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from singer_tasks.errors import RenderInputError, VoiceConfigError
from singer_tasks.voices.voicebank import builders as B
from singer_tasks.voices.voicebank import graphs as G
from singer_tasks.voices.voicebank.config import DsConfig
from singer_tasks.voices.voicebank.loader import SubModel, Tables, Voicebank
from singer_tasks.voices.voicebank.notes import pitch_notes

Curve = tuple[ArrayLike, ArrayLike] | float
F32 = NDArray[np.float32]
# (graph kind, frames on that graph's axis) -> extra inputs for it (e.g. the starting noise of a graph rewritten
# to take its noise as an input, so a phrase renders the same for the same seed).
ExtraInputs = Callable[[str, int], Mapping[str, ArrayLike]]


@dataclass(frozen=True)
class PhraseRequest:
    """What to sing. `durations_ms` None: predicted with dsdur (then `lead_ms` comes from the prediction)."""

    phonemes: Sequence[str]
    notes: Sequence[B.Note]
    durations_ms: Sequence[float] | None = None
    languages: Sequence[str | None] | None = None  # per phoneme, for language-prefixed phonemes / language ids
    lead_ms: float = 0.0  # with given durations: how long before the first note the first phoneme starts
    pitch: Curve | None = None  # MIDI; None: dspitch predicts it (or the notes' steps without dspitch)
    tone_shift_cents: Curve = 0.0  # shifts what the acoustic model hears (and the variance pitch)
    speakers: Mapping[str, Curve] | None = None  # weight 0..1 per speaker (entry or subbank colour)
    default_speaker: str | None = None  # takes what the weights leave; first `speakers` entry when None
    gender: Curve = 0.0  # graph units: key shift = gender x range end (5 semitones here)
    velocity: Curve = 1.0  # speed multiplier, clipped to [0.5, 2]
    expr: Curve = 1.0  # pitch expressiveness 0..1
    variances: Mapping[str, Curve] = field(default_factory=dict)  # replace predicted curves (dB / logit)
    steps_acoustic: int = 20
    steps_pitch: int = 10
    steps_variance: int = 20
    depth: float = 1.0  # preference; the graph gets min(depth, max_depth)
    extra_inputs: ExtraInputs | None = None  # per sampling graph (pitch, variance, acoustic)


def _extra(req: PhraseRequest, kind: str, frames: int) -> Mapping[str, ArrayLike] | None:
    return None if req.extra_inputs is None else req.extra_inputs(kind, frames)


@dataclass(frozen=True)
class PhraseResult:
    """Durations (ms per phoneme; frames with pads on the acoustic axis), curves on the acoustic frames."""

    durations_ms: NDArray[np.float64]
    lead_ms: float
    tokens: NDArray[np.int64]
    frames: NDArray[np.int64]  # [N + 2] acoustic durations, pads included
    frame_ms: float
    start_ms: float  # time of acoustic frame 0
    pitch: F32  # MIDI per acoustic frame
    variances: dict[str, F32]
    mel: F32
    waveform: F32 | None  # None when the voicebank has no usable vocoder
    sample_rate: int


def _curve(c: Curve, times: NDArray[np.float64]) -> NDArray[np.float64]:
    if isinstance(c, int | float):
        return np.full(times.shape, float(c))
    return B.sample_curve(c[0], c[1], times)


@dataclass(frozen=True)
class _Axis:
    """One graph's frames: padded phoneme durations and frame times."""

    padded: NDArray[np.int64]
    times: NDArray[np.float64]

    @staticmethod
    def make(durations_ms: Sequence[float] | NDArray[np.float64], lead_ms: float, frame_ms: float) -> _Axis:
        padded = B.padded_phone_durations(durations_ms, frame_ms)
        start = -lead_ms - B.HEAD_FRAMES * frame_ms
        return _Axis(padded, (start + frame_ms * np.arange(int(padded.sum()))).astype(np.float64))


def _speaker_embed(bank: Voicebank, req: PhraseRequest, tables: Tables, times: NDArray[np.float64]) -> F32 | None:
    """Per-frame (or per-token, given token times) mix of the folder's `.emb` vectors."""
    if tables.speaker_embeds is None:
        return None
    weights = np.zeros((len(times), tables.speaker_embeds.shape[0]), np.float64)
    for name, curve in (req.speakers or {}).items():
        weights[:, bank.speaker_index(name)] += _curve(curve, times)
    default = bank.speaker_index(req.default_speaker) if req.default_speaker else 0
    return B.mix_speakers(tables.speaker_embeds, weights, np.full(len(times), default))


def _encode(bank: Voicebank, sub: SubModel, names: list[str], axis: _Axis) -> F32:
    """The pitch/variance linguistic encoder over the padded phrase."""
    cfg = sub.config
    tokens = B.padded_tokens(names, sub.tables.phonemes, str(cfg.path))
    langs = B.language_ids(names, sub.tables.languages) if cfg.use_lang_id else None
    session = bank.session(f"{sub.kind}.linguistic")
    if cfg.predict_dur:
        div, wdur = B.word_div_and_dur(names, axis.padded, sub.dsdict.is_vowel)
        enc, _ = G.run_linguistic(session, tokens, word_div=div, word_dur=wdur, languages=langs)
    else:
        enc, _ = G.run_linguistic(session, tokens, ph_dur=axis.padded, languages=langs)
    return enc


def _names(req: PhraseRequest, cfg: DsConfig, tables: Tables) -> list[str]:
    names = B.resolve_phonemes(req.phonemes, req.languages, tables.phonemes, cfg.use_lang_id)
    return names


def predict_durations(bank: Voicebank, req: PhraseRequest) -> tuple[NDArray[np.float64], float]:
    """dsdur: (ms per phoneme, lead ms before the first note), aligned to the notes as OpenUtau aligns them."""
    sub = bank.dur
    if sub is None:
        raise RenderInputError(f"{bank.root}: no dsdur/ to predict durations; give durations_ms")
    cfg = sub.config
    names = _names(req, cfg, sub.tables)
    words = B.dur_words(names, req.notes, cfg.frame_ms, sub.dsdict.is_vowel, sub.dsdict.is_glide)
    tokens = B.tokenize(words.names, sub.tables.phonemes, str(cfg.path))
    langs = B.language_ids(names, sub.tables.languages, pads=(1, 0)) if cfg.use_lang_id else None
    enc, masks = G.run_linguistic(
        bank.session("dur.linguistic"), tokens, word_div=words.div, word_dur=words.dur_frames, languages=langs
    )
    note_starts = np.concatenate([[0.0], np.cumsum([n.duration_ms for n in req.notes])])
    token_times = np.repeat([note_starts[max(g, 0)] for g in words.group_note], words.div)
    spk = _speaker_embed(bank, req, sub.tables, token_times)
    pred = G.run_dur(bank.session("dur"), enc, masks, words.ph_midi, spk_embed=spk)
    return B.align_durations(pred, words, cfg.frame_ms)


def _note_steps(req: PhraseRequest, times: NDArray[np.float64]) -> NDArray[np.float64]:
    """Without a pitch predictor: the notes' pitches as steps (rests take the nearest note)."""
    midi = B.fill_rest_midi([n.midi for n in req.notes], [n.rest for n in req.notes])
    ends = np.cumsum([n.duration_ms for n in req.notes])
    idx = np.minimum(np.searchsorted(ends, times, side="right"), len(ends) - 1)
    return midi[idx].astype(np.float64)


def predict_pitch(bank: Voicebank, req: PhraseRequest, durations_ms: NDArray[np.float64], lead_ms: float) -> Curve:
    """MIDI pitch as a (times, values) curve: given, predicted by dspitch, or the note steps."""
    if req.pitch is not None:
        return req.pitch
    sub = bank.pitch
    if sub is None:
        times = _Axis.make(durations_ms, lead_ms, bank.config.frame_ms).times
        return times, _note_steps(req, times)
    cfg = sub.config
    names = _names(req, cfg, sub.tables)
    axis = _Axis.make(durations_ms, lead_ms, cfg.frame_ms)
    enc = _encode(bank, sub, names, axis)
    starts = -lead_ms + np.concatenate([[0.0], np.cumsum(durations_ms)[:-1]])
    midi, rest, ndur = pitch_notes(
        req.notes, names, starts, durations_ms, cfg.frame_ms, len(axis.times), sub.dsdict.is_vowel
    )
    total = len(axis.times)
    pred = G.run_pitch(
        bank.session("pitch"), enc, axis.padded, midi, ndur, np.full(total, 60.0), np.ones(total, bool),
        steps=req.steps_pitch,
        speedup=None if cfg.use_continuous_acceleration else B.ddpm_speedup(req.steps_pitch),
        note_rest=rest if cfg.use_note_rest else None,
        expr=np.clip(_curve(req.expr, axis.times), 0, 1) if cfg.use_expr else None,
        spk_embed=_speaker_embed(bank, req, sub.tables, axis.times), extra=_extra(req, "pitch", total),
    )  # fmt: skip
    return axis.times, pred


def predict_variances(
    bank: Voicebank, req: PhraseRequest, durations_ms: NDArray[np.float64], lead_ms: float, pitch: Curve
) -> dict[str, Curve]:
    """The curves the acoustic model takes: given ones, the rest predicted by dsvariance."""
    wanted = [n for n in bank.config.variance_embeds if n not in req.variances]
    result: dict[str, Curve] = {n: req.variances[n] for n in bank.config.variance_embeds if n in req.variances}
    sub = bank.variance
    if not wanted or sub is None:
        return result
    cfg = sub.config
    axis = _Axis.make(durations_ms, lead_ms, cfg.frame_ms)
    enc = _encode(bank, sub, _names(req, cfg, sub.tables), axis)
    total = len(axis.times)
    midi = _curve(pitch, axis.times) + _curve(req.tone_shift_cents, axis.times) / 100
    names = cfg.predicted_variances
    out = G.run_variance(
        bank.session("variance"), enc, axis.padded, midi, {n: np.zeros(total) for n in names},
        np.ones((total, len(names)), bool), steps=req.steps_variance,
        speedup=None if cfg.use_continuous_acceleration else B.ddpm_speedup(req.steps_variance),
        spk_embed=_speaker_embed(bank, req, sub.tables, axis.times), extra=_extra(req, "variance", total),
    )  # fmt: skip
    for n in wanted:
        result[n] = (axis.times, out[n])
    return result


def render_phrase(bank: Voicebank, req: PhraseRequest) -> PhraseResult:
    """Run the whole chain for one phrase: durations, pitch, variances, acoustic model, vocoder."""
    if not req.phonemes or not req.notes:
        raise RenderInputError("a phrase needs at least one phoneme and one note")
    if req.durations_ms is None:
        durations, lead = predict_durations(bank, req)
    else:
        if len(req.durations_ms) != len(req.phonemes):
            raise RenderInputError(f"{len(req.durations_ms)} durations for {len(req.phonemes)} phonemes")
        durations, lead = np.asarray(req.durations_ms, dtype=np.float64), req.lead_ms
    pitch = predict_pitch(bank, req, durations, lead)
    variances = predict_variances(bank, req, durations, lead, pitch)
    cfg = bank.config
    names = _names(req, cfg, bank.tables)
    axis = _Axis.make(durations, lead, cfg.frame_ms)
    tokens = B.padded_tokens(names, bank.tables.phonemes, str(cfg.path))
    midi = _curve(pitch, axis.times).astype(np.float32)
    f0 = B.midi_to_hz(midi)
    shifted = (f0 * np.power(2.0, _curve(req.tone_shift_cents, axis.times) / 1200)).astype(np.float32)
    vocoder = bank.vocoder_config
    depth, speedup = B.sampling_settings(
        cfg.use_continuous_acceleration, cfg.use_variable_depth, cfg.max_depth, req.steps_acoustic, req.depth
    )
    curves = {n: _curve(c, axis.times).astype(np.float32) for n, c in variances.items()}
    mel = G.run_acoustic(
        bank.session("acoustic"), tokens, axis.padded, shifted if vocoder and vocoder.pitch_controllable else f0,
        steps=req.steps_acoustic, depth=depth, speedup=speedup,
        languages=B.language_ids(names, bank.tables.languages) if cfg.use_lang_id else None,
        gender=_curve(req.gender, axis.times) if cfg.use_key_shift_embed else None,
        velocity=np.clip(_curve(req.velocity, axis.times), 0.5, 2.0) if cfg.use_speed_embed else None,
        curves=curves, spk_embed=_speaker_embed(bank, req, bank.tables, axis.times),
        extra=_extra(req, "acoustic", len(axis.times)),
    )  # fmt: skip
    wave = None
    if vocoder is not None:
        wave = G.run_vocoder(bank.session("vocoder"), B.rescale_mel_base(mel, cfg.mel_base, vocoder.mel_base), f0)
    elif cfg.vocoder is None:
        raise VoiceConfigError(f"{cfg.path}: key 'vocoder' is empty and there is no dsvocoder/")
    return PhraseResult(
        durations_ms=np.asarray(durations, dtype=np.float64),
        lead_ms=float(lead),
        tokens=tokens,
        frames=axis.padded,
        frame_ms=cfg.frame_ms,
        start_ms=float(axis.times[0]),
        pitch=midi,
        variances=curves,
        mel=mel,
        waveform=wave,
        sample_rate=cfg.sample_rate,
    )
