"""A .ds segment -> the variance model's inputs, as openvpi's ds_variance.preprocess_input prepares them.

Timing: a boundary at cumulative time s falls on frame round(s / timestep + 0.5) (float32, half to even).
Words are delimited by `ph_num`; without phoneme durations a word lasts as long as its notes (a slurred
note continues the previous word). `base_pitch` is the frame-level note key (rests take the nearest
note's key) smoothed by a sine window of `midi_smooth_width` seconds. `midi` is each phoneme's key: the
duration-weighted mean over its word (or over the phoneme itself when durations are given), rounded.
Shapes: N tokens, W words, Nn notes, T frames, S speakers in a mix; every tensor has batch size 1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from singer_tasks.errors import PhraseFormatError
from singer_tasks.voices.diffsinger.acoustic.encoder import mel2ph_to_dur
from singer_tasks.voices.diffsinger.acoustic.inputs import resample_curve
from singer_tasks.voices.diffsinger.acoustic.phonemes import PhonemeDictionary
from singer_tasks.voices.diffsinger.variance.config import VarianceConfig
from singer_tasks.voices.diffsinger.variance.duration import length_regulate
from singer_tasks.voices.diffsinger.variance.speakers import SpeakerMix, mix_tensors

_NOTE = re.compile(r"^(?P<letter>[A-Ga-g])(?P<acc>[#♯𝄪b!♭𝄫♮]*)(?P<octave>[+-]?\d+)?(?P<cents>[+-]\d+)?$")
_PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTAL = {"#": 1, "♯": 1, "𝄪": 2, "b": -1, "!": -1, "♭": -1, "𝄫": -2, "♮": 0}


@dataclass
class VarianceInputs:
    """The model's inputs for one segment (openvpi's batch names). ph_dur / mel2ph are given durations
    (None: predicted); pitch [1, T] MIDI and the variance curves [1, T] are given curves, re-predicted where
    the matching retake mask (bool [1, T]) is true; expr is the pitch expressiveness, [1, 1] or [1, T]."""

    tokens: Tensor  # int64 [1, N]
    ph2word: Tensor  # int64 [1, N], 1-based
    midi: Tensor  # int64 [1, N]
    word_dur: Tensor  # int64 [1, W] frames
    note_midi: Tensor  # float32 [1, Nn]
    note_rest: Tensor  # bool [1, Nn]
    note_dur: Tensor  # int64 [1, Nn] frames
    note_glide: Tensor  # int64 [1, Nn]
    mel2note: Tensor  # int64 [1, T], 1-based
    base_pitch: Tensor  # float32 [1, T] MIDI
    ph_dur: Tensor | None = None  # int64 [1, N] frames
    mel2ph: Tensor | None = None  # int64 [1, T], 1-based
    expr: Tensor | None = None
    languages: Tensor | None = None  # int64 [1, N]
    ph_spk_mix_id: Tensor | None = None  # int64 [1, 1, S]
    ph_spk_mix_value: Tensor | None = None  # float32 [1, 1 or N, S]
    spk_mix_id: Tensor | None = None  # int64 [1, 1, S]
    spk_mix_value: Tensor | None = None  # float32 [1, 1 or T, S]
    pitch: Tensor | None = None
    pitch_retake: Tensor | None = None
    variances: dict[str, Tensor] = field(default_factory=dict)
    variance_retake: dict[str, Tensor] | None = None

    @property
    def frames(self) -> int:
        """T, the segment's length in frames (set by its notes)."""
        return int(self.mel2note.shape[1])


def note_to_midi(name: str) -> float:
    """A note name ("C4", "F#3", "Bb2", "A4+25" with cents) -> fractional MIDI key, as librosa's note_to_midi
    (round_midi=False) reads it."""
    match = _NOTE.match(name.strip())
    if match is None:
        raise PhraseFormatError(f"note_seq holds {name!r}, which is neither a note name like 'C#4' nor 'rest'")
    offset = sum(_ACCIDENTAL[a] for a in match["acc"])
    octave = int(match["octave"] or 0)
    cents = int(match["cents"] or 0)
    return 12 * (octave + 1) + _PITCH_CLASS[match["letter"].upper()] + offset + cents / 100


def fill_rests(keys: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Give each rest the key of the nearest note (ties to the earlier one, as scipy's 'nearest'); all rests
    -> 60."""
    if rest.all():
        return np.full_like(keys, 60.0)
    notes = np.flatnonzero(~rest)
    bounds = (notes[1:] + notes[:-1]) / 2.0
    out = keys.copy()
    rests = np.flatnonzero(rest)
    nearest = np.searchsorted(bounds, rests, side="left").clip(0, len(notes) - 1)
    out[rests] = keys[notes[nearest]]
    return out


def frame_durations(seconds: Tensor, timestep: float) -> Tensor:
    """Durations in seconds float32 [1, L] -> whole frames int64 [1, L] (boundaries rounded, not lengths)."""
    acc = torch.round(torch.cumsum(seconds, dim=1) / timestep + 0.5).long()
    return torch.diff(acc, dim=1, prepend=acc.new_zeros(1, 1))


def smooth_kernel(width_s: float, timestep: float) -> Tensor:
    """openvpi's MIDI smoothing window: a normalised sine bump of round(width / timestep) taps, [1, 1, K]."""
    size = max(1, round(width_s / timestep))
    kernel = torch.sin(torch.from_numpy(np.linspace(0, 1, size).astype(np.float32) * np.pi))
    if float(kernel.sum()) <= 0:  # one or two taps: the sine is zero at both ends
        kernel = torch.ones(size)
    return (kernel / kernel.sum())[None, None]


def smooth(curve: Tensor, kernel: Tensor) -> Tensor:
    """curve [1, T] convolved with kernel [1, 1, K], edges replicated ('same' padding as torch's Conv1d)."""
    total = kernel.shape[-1] - 1
    padded = F.pad(curve[:, None], [total // 2, total - total // 2], mode="replicate")
    return F.conv1d(padded, kernel)[:, 0]


def _split(segment: Mapping[str, Any], key: str) -> list[str]:
    value = segment.get(key)
    if value is None:
        raise PhraseFormatError(f"the segment has no '{key}'")
    parts = value.split() if isinstance(value, str) else [str(v) for v in value]
    if not parts:
        raise PhraseFormatError(f"the segment's '{key}' is empty")
    return parts


def _numbers(segment: Mapping[str, Any], key: str, kind: type) -> np.ndarray:
    try:
        return np.array([kind(x) for x in _split(segment, key)], kind)
    except ValueError as e:
        raise PhraseFormatError(f"the segment's '{key}' holds something other than numbers: {e}") from e


def _timed_curve(segment: Mapping[str, Any], key: str, timestep: float, frames: int) -> Tensor:
    values = _numbers(segment, key, float).astype(np.float32)
    step = segment.get(f"{key}_timestep")
    if step is None:
        raise PhraseFormatError(f"the segment's '{key}' curve needs '{key}_timestep'")
    return torch.from_numpy(resample_curve(values.tolist(), float(step), timestep, frames))[None]


@dataclass(frozen=True)
class _Notes:
    midi: Tensor  # float32 [1, Nn], rests filled
    rest: Tensor  # bool [1, Nn]
    dur: Tensor  # int64 [1, Nn] frames
    mel2note: Tensor  # int64 [1, T]


def _notes(segment: Mapping[str, Any], timestep: float) -> _Notes:
    notes = _split(segment, "note_seq")
    keys = np.array([-1.0 if n == "rest" else note_to_midi(n) for n in notes], np.float32)
    rest = keys < 0
    note_dur_s = torch.from_numpy(_numbers(segment, "note_dur", float).astype(np.float32))[None]
    if note_dur_s.shape[1] != len(notes):
        raise PhraseFormatError(f"note_dur has {note_dur_s.shape[1]} values for {len(notes)} notes")
    note_dur = frame_durations(note_dur_s, timestep)
    mel2note = length_regulate(note_dur)  # (1, T)
    if mel2note.shape[1] == 0:
        raise PhraseFormatError("the segment's notes last less than one frame")
    return _Notes(torch.from_numpy(fill_rests(keys, rest))[None], torch.from_numpy(rest)[None], note_dur, mel2note)


def _align(index: Tensor, frames: int, count: int) -> tuple[Tensor, Tensor]:
    """A frame -> 1-based index map fitted to `frames` (its last index extended, or cut) and the matching
    durations [1, count]."""
    index = F.pad(index, [0, frames - index.shape[1]], value=int(index[0, -1]))
    return index, mel2ph_to_dur(index, count)


def _given_durations(
    segment: Mapping[str, Any], tokens: Tensor, ph2word: Tensor, frames: int, timestep: float
) -> tuple[Tensor, Tensor, Tensor]:
    """(ph_dur [1, N], mel2ph [1, T], word_dur [1, W]) from the segment's phoneme durations."""
    n_tokens = tokens.shape[1]
    ph_dur_s = torch.from_numpy(_numbers(segment, "ph_dur", float).astype(np.float32))[None]
    if ph_dur_s.shape[1] != n_tokens:
        raise PhraseFormatError(f"ph_dur has {ph_dur_s.shape[1]} values for {n_tokens} phonemes")
    ph_dur = frame_durations(ph_dur_s, timestep)
    mel2ph = length_regulate(ph_dur, tokens == 0)
    if mel2ph.shape[1] != frames:  # align the phonemes with the notes
        mel2ph, ph_dur = _align(mel2ph, frames, n_tokens)
    word_dur = ph_dur.new_zeros(1, int(ph2word.max()) + 1).scatter_add(1, ph2word, ph_dur)[:, 1:]
    return ph_dur, mel2ph, word_dur


def _note_word_durations(segment: Mapping[str, Any], notes: _Notes, n_words: int) -> Tensor:
    """word_dur [1, W]: each word lasts as long as its notes, a slurred note continuing the previous word."""
    slur = torch.tensor([[int(s) for s in _split(segment, "note_slur")]], dtype=torch.bool)
    if slur.shape[1] != notes.dur.shape[1]:
        raise PhraseFormatError(f"note_slur has {slur.shape[1]} values for {notes.dur.shape[1]} notes")
    note2word = torch.cumsum(~slur, dim=1)
    if int(note2word.max()) != n_words:
        raise PhraseFormatError(f"the notes (slurs merged) make {int(note2word.max())} words, ph_num {n_words}")
    return notes.dur.new_zeros(1, n_words + 1).scatter_add(1, note2word, notes.dur)[:, 1:]


def _glides(segment: Mapping[str, Any], config: VarianceConfig, n_notes: int) -> Tensor:
    """note_glide [1, Nn]: 0 none, then 1 + the index of the type in config.glide_types (unknown -> 0)."""
    if not config.use_glide_embed or segment.get("note_glide") is None:
        return torch.zeros(1, n_notes, dtype=torch.long)
    glide_map = {"none": 0, **{name: i + 1 for i, name in enumerate(config.glide_types)}}
    glides = _split(segment, "note_glide")
    if len(glides) != n_notes:
        raise PhraseFormatError(f"note_glide has {len(glides)} values for {n_notes} notes")
    return torch.tensor([[glide_map.get(g, 0) for g in glides]], dtype=torch.long)


def _phoneme_midi(frame_midi: Tensor, index: Tensor, dur: Tensor, ph2word: Tensor | None) -> Tensor:
    """Each phoneme's key int64 [1, N]: the mean key over its span (`index` frame map, `dur` durations), spans
    being phonemes (ph2word None) or words (spread to their phonemes by ph2word)."""
    frame_dur = torch.gather(F.pad(dur, [1, 0], value=1), 1, index)
    mean = frame_midi.new_zeros(1, dur.shape[1] + 1).scatter_add(1, index, frame_midi / frame_dur)[:, 1:]
    if ph2word is not None:
        mean = torch.gather(F.pad(mean, [1, 0]), 1, ph2word)
    return mean.round().long()


def _expr(segment: Mapping[str, Any], timestep: float, frames: int) -> Tensor:
    """Expressiveness: a number ([1, 1]) or a curve with expr_timestep ([1, T]); 1.0 when absent."""
    value = segment.get("expr", 1.0)
    if isinstance(value, (int, float)):
        return torch.tensor([[float(value)]], dtype=torch.float32)
    return _timed_curve(segment, "expr", timestep, frames)


def build_inputs(
    segment: Mapping[str, Any],
    config: VarianceConfig,
    dictionary: PhonemeDictionary,
    spk_map: Mapping[str, int] | None = None,
    *,
    speakers: SpeakerMix | None = None,
) -> VarianceInputs:
    """Inputs for one .ds segment (`ph_seq`, `ph_num`, `note_seq`, `note_dur`, `note_slur`, optional
    `note_glide`, `ph_dur`, `expr`, `ph_spk_mix`, `spk_mix`, `spk_mix_timestep`, `lang`). Given `ph_dur` are
    used (not predicted); a phoneme-level model needs them. `speakers` replaces both speaker mixes."""
    timestep = config.timestep
    tokens = torch.tensor([dictionary.encode(_split(segment, "ph_seq"), segment.get("lang"))], dtype=torch.long)
    n_tokens = tokens.shape[1]
    ph_num = torch.from_numpy(_numbers(segment, "ph_num", int))[None]
    if int(ph_num.sum()) != n_tokens or (ph_num < 0).any():
        raise PhraseFormatError(f"ph_num sums to {int(ph_num.sum())} but ph_seq has {n_tokens} phonemes")
    ph2word = length_regulate(ph_num)  # (1, N)
    n_words = int(ph2word.max())
    notes = _notes(segment, timestep)
    frames = notes.mel2note.shape[1]

    ph_dur = mel2ph = None
    if segment.get("ph_dur") is not None:
        ph_dur, mel2ph, word_dur = _given_durations(segment, tokens, ph2word, frames, timestep)
    elif not config.predict_dur:
        raise PhraseFormatError("this variance model reads phoneme durations: the segment needs 'ph_dur'")
    else:
        word_dur = _note_word_durations(segment, notes, n_words)
    mel2word = length_regulate(word_dur)
    if mel2word.shape[1] != frames:  # align the words with the notes
        mel2word, word_dur = _align(mel2word, frames, n_words)

    frame_midi = torch.gather(F.pad(notes.midi, [1, 0]), 1, notes.mel2note)  # the note step curve (1, T)
    if ph_dur is not None and mel2ph is not None:
        midi = _phoneme_midi(frame_midi, mel2ph, ph_dur, None)
    else:
        midi = _phoneme_midi(frame_midi, mel2word, word_dur, ph2word)
    inputs = VarianceInputs(
        tokens=tokens, ph2word=ph2word, midi=midi, word_dur=word_dur, note_midi=notes.midi, note_rest=notes.rest,
        note_dur=notes.dur, note_glide=_glides(segment, config, notes.dur.shape[1]), mel2note=notes.mel2note,
        base_pitch=smooth(frame_midi, smooth_kernel(config.midi_smooth_width, timestep)), ph_dur=ph_dur,
        mel2ph=mel2ph, expr=_expr(segment, timestep, frames) if config.predict_pitch else None,
    )  # fmt: skip
    if config.use_lang_id:
        # openvpi feeds a language id only to phonemes merged across languages (merged groups, which this
        # loader refuses); every other phoneme gets 0.
        inputs.languages = torch.zeros_like(tokens)
    if config.use_spk_id:
        _add_speakers(inputs, segment, spk_map, speakers, timestep)
    return inputs


def _add_speakers(
    inputs: VarianceInputs,
    segment: Mapping[str, Any],
    spk_map: Mapping[str, int] | None,
    speakers: SpeakerMix | None,
    timestep: float,
) -> None:
    if not spk_map:
        raise PhraseFormatError("this is a multi-speaker model but no speaker map (spk_map.json) was given")
    step = segment.get("spk_mix_timestep")
    ph_mix = mix_tensors(
        speakers or segment.get("ph_spk_mix"), spk_map, level="token", length=inputs.tokens.shape[1],
        timestep=timestep,
    )  # fmt: skip
    mix = mix_tensors(
        speakers or segment.get("spk_mix"), spk_map, level="frame", length=inputs.frames, timestep=timestep,
        mix_timestep=None if step is None else float(step),
    )  # fmt: skip
    inputs.ph_spk_mix_id, inputs.ph_spk_mix_value = ph_mix.ids, ph_mix.values
    inputs.spk_mix_id, inputs.spk_mix_value = mix.ids, mix.values


def check_midi_range(midi: Tensor, field_name: str = "midi") -> None:
    """The duration predictor embeds MIDI keys 0..127; refuse others with a clear message."""
    if midi.numel() and (int(midi.min()) < 0 or int(midi.max()) > 127):
        raise PhraseFormatError(f"{field_name} keys must lie in 0..127, got {int(midi.min())}..{int(midi.max())}")
