"""Input builders: the arrays OpenUtau derives from a phrase, as plain numpy functions.

Timing follows DiffSingerUtils: a phrase's phonemes get an SP pad of 8 frames before and after; durations in
frames are differences of round-half-even(cumulative ms / frame ms + 0.5) (numpy's round is half-even, as C#'s
MidpointRounding.ToEven). Word division for the pitch/variance linguistic encoders starts a word at each vowel
(SP/AP count as vowels), the head pad joining the first word and the tail pad the last one
(PaddedWordDivAndDur); the duration model's words are one per note (DiffSingerBasePhonemizer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from singer_tasks.errors import PhonemeError, RenderInputError

HEAD_FRAMES = 8
TAIL_FRAMES = 8
DUR_HEAD_MS = 500.0  # the duration model's padding before the first note (room for leading consonants)
I64 = NDArray[np.int64]
F32 = NDArray[np.float32]


def durations_ms_to_frames(durations_ms: Sequence[float] | ArrayLike, frame_ms: float) -> I64:
    """Frames per item: differences of round-half-even(cumulative ms / frame_ms + 0.5)."""
    ms = np.asarray(durations_ms, dtype=np.float64)
    if np.any(ms < 0):
        raise RenderInputError(f"negative duration in {ms.tolist()} ms")
    edges = np.round(np.cumsum(ms) / frame_ms + 0.5).astype(np.int64)
    return np.diff(edges, prepend=0)


def padded_phone_durations(
    durations_ms: Sequence[float] | ArrayLike, frame_ms: float, head: int = HEAD_FRAMES, tail: int = TAIL_FRAMES
) -> I64:
    """[N + 2] frames: the SP pads (head/tail frames) around the phonemes."""
    body = np.asarray(durations_ms, dtype=np.float64)
    return durations_ms_to_frames(np.concatenate([[head * frame_ms], body, [tail * frame_ms]]), frame_ms)


def resolve_phonemes(
    phonemes: Sequence[str], languages: Sequence[str | None] | None, table: dict[str, int], use_lang_id: bool
) -> list[str]:
    """Token names: with language ids, a phoneme of language `ja` is looked up as `ja/a` when the table has it."""
    names = []
    for i, ph in enumerate(phonemes):
        lang = languages[i] if languages is not None else None
        if use_lang_id and lang and "/" not in ph and f"{lang}/{ph}" in table:
            ph = f"{lang}/{ph}"
        names.append(ph)
    return names


def tokenize(names: Sequence[str], table: dict[str, int], where: str) -> I64:
    """Token ids; unknown phonemes are named, all at once."""
    unknown = sorted({n for n in names if n not in table})
    if unknown:
        raise PhonemeError(f"phonemes {unknown} are not in {where}")
    return np.array([table[n] for n in names], dtype=np.int64)


def padded_tokens(names: Sequence[str], table: dict[str, int], where: str) -> I64:
    """[N + 2] token ids with SP before and after."""
    return tokenize(["SP", *names, "SP"], table, where)


def phoneme_language(name: str) -> str:
    """The language prefix of `ja/a` (OpenUtau's PhonemeLanguage), "" when unprefixed."""
    return name.split("/", 1)[0] if "/" in name else ""


def language_ids(names: Sequence[str], languages: dict[str, int], pads: tuple[int, int] = (1, 1)) -> I64:
    """Language id per token (0 for unknown languages and for the SP pads)."""
    ids = [languages.get(phoneme_language(n), 0) for n in names]
    return np.array([0] * pads[0] + ids + [0] * pads[1], dtype=np.int64)


def word_div_and_dur(names: Sequence[str], padded_dur: ArrayLike, is_vowel: Callable[[str], bool]) -> tuple[I64, I64]:
    """OpenUtau's PaddedWordDivAndDur: a word starts at each vowel; head pad joins word 1, tail pad the last."""
    dur = np.asarray(padded_dur, dtype=np.int64)
    n = len(names)
    if n == 0 or dur.shape != (n + 2,):
        raise RenderInputError(f"word mode needs N >= 1 phonemes and N + 2 durations, got {n} and {dur.shape}")
    vowels = [i for i, ph in enumerate(names) if is_vowel(ph)] or [n - 1]
    div = [vowels[0] + 1, *np.diff(vowels).tolist(), n - vowels[-1] + 1]
    div_arr = np.array(div, dtype=np.int64)
    if np.any(div_arr <= 0):
        raise RenderInputError("word division produced an empty word")
    ends = np.cumsum(div_arr)
    word_dur = np.add.reduceat(dur, np.concatenate([[0], ends[:-1]]))
    return div_arr, word_dur.astype(np.int64)


def word_div_split_tail(
    names: Sequence[str], padded_dur: ArrayLike, is_vowel: Callable[[str], bool]
) -> tuple[I64, I64]:
    """The same rule applied over the padded tokens, so the tail SP is a word of its own (openvpi's ph_num)."""
    dur = np.asarray(padded_dur, dtype=np.int64)
    padded = ["SP", *names, "SP"]
    starts = [0] + [i for i in range(1, len(padded)) if is_vowel(padded[i])]
    div = np.diff([*starts, len(padded)]).astype(np.int64)
    return div, np.add.reduceat(dur, np.array(starts)).astype(np.int64)


@dataclass(frozen=True)
class Note:
    """A note of a phrase: MIDI pitch, duration in ms, rest, slur (continues the previous note's syllable)."""

    midi: float
    duration_ms: float
    rest: bool = False
    slur: bool = False


@dataclass(frozen=True)
class DurWords:
    """Duration-model words: group g holds `div[g]` tokens; group 0 is the SP pad plus leading consonants."""

    names: list[str]  # SP + phonemes (no trailing pad: OpenUtau's phonemizer adds none)
    div: I64
    dur_frames: I64
    ph_midi: I64
    group_ms: NDArray[np.float64]  # duration of each group's span (group 0: the head padding)
    group_note: list[int]  # index of the note each group starts on (-1: head)


def word_starts(names: Sequence[str], is_vowel: Callable[[str], bool], is_glide: Callable[[str], bool]) -> list[int]:
    """Where each note's word starts: at its vowel, or at the glide before it when a consonant precedes the glide."""
    starts = []
    for i, ph in enumerate(names):
        if not is_vowel(ph):
            continue
        glide_first = i >= 2 and is_glide(names[i - 1]) and not is_vowel(names[i - 2])
        starts.append(i - 1 if glide_first else i)
    if not starts:
        starts = [0]
    return starts


def dur_words(
    names: Sequence[str],
    notes: Sequence[Note],
    frame_ms: float,
    is_vowel: Callable[[str], bool],
    is_glide: Callable[[str], bool],
    head_ms: float = DUR_HEAD_MS,
) -> DurWords:
    """The duration model's tokens, word_div, word_dur and ph_midi: one word per (non-slur) note."""
    starts = word_starts(names, is_vowel, is_glide)
    sung = [i for i, note in enumerate(notes) if not note.slur]
    if len(starts) != len(sung):
        raise RenderInputError(
            f"{len(sung)} notes (not slurs) but {len(starts)} syllable starts (vowels) in phonemes {list(names)}"
        )
    bounds = [0, *starts, len(names)]
    div = np.array([bounds[0 + 1] + 1, *np.diff(bounds[1:])], dtype=np.int64)  # +1: the SP pad
    spans = [head_ms]
    for k, first in enumerate(sung):
        last = sung[k + 1] if k + 1 < len(sung) else len(notes)
        spans.append(sum(n.duration_ms for n in notes[first:last]))
    span_ms = np.array(spans, dtype=np.float64)
    midi = [round(notes[sung[0]].midi)] + [round(notes[i].midi) for i in sung]
    return DurWords(
        names=["SP", *names],
        div=div,
        dur_frames=durations_ms_to_frames(span_ms, frame_ms),
        ph_midi=np.repeat(np.array(midi, dtype=np.int64), div),
        group_ms=span_ms,
        group_note=[-1, *sung],
    )


def align_durations(pred_frames: ArrayLike, words: DurWords, frame_ms: float) -> tuple[NDArray[np.float64], float]:
    """OpenUtau's alignment of predicted durations to the notes -> (ms per phoneme, lead ms before note 1).

    Leading consonants keep their predicted length and end at the first note; each later word is scaled to fill
    its notes. The SP pad's prediction is dropped.
    """
    pred = np.asarray(pred_frames, dtype=np.float64)
    offsets = np.concatenate([[0], np.cumsum(words.div)])
    lead = pred[1 : offsets[1]] * frame_ms
    out = [lead]
    for g in range(1, len(words.div)):
        group = pred[offsets[g] : offsets[g + 1]]
        total = group.sum()
        # A zero prediction would divide by zero; share the span evenly then.
        scale = words.group_ms[g] / total if total > 0 else 0.0
        out.append(group * scale if total > 0 else np.full(len(group), words.group_ms[g] / len(group)))
    return np.concatenate(out), float(lead.sum())


def fill_rest_midi(midi: ArrayLike, rest: Sequence[bool]) -> F32:
    """Rest notes take the nearest sung note's pitch (a run between two notes split at its middle); all rest: 60."""
    out = np.asarray(midi, dtype=np.float32).copy()
    n = len(rest)
    if all(rest):
        out[:] = 60.0
        return out
    i = 0
    while i < n:
        if not rest[i]:
            i += 1
            continue
        j = i
        while j < n and rest[j]:
            j += 1
        if i == 0:
            out[:j] = out[j]
        elif j == n:
            out[i:] = out[i - 1]
        else:
            mid = (i + j + 1) // 2
            out[i:mid] = out[i - 1]
            out[mid:j] = out[j]
        i = j + 1
    return out


def fit_duration_sum(durations: ArrayLike, total: int) -> I64:
    """Make durations sum to `total` by changing the last ones (OpenUtau's FitDurationSum)."""
    out = np.asarray(durations, dtype=np.int64).copy()
    if out.size == 0:
        return out
    out[-1] += total - int(out.sum())
    deficit = -min(int(out[-1]), 0)
    out[-1] = max(int(out[-1]), 0)
    for i in range(len(out) - 2, -1, -1):
        if deficit <= 0:
            break
        take = min(int(out[i]), deficit)
        out[i] -= take
        deficit -= take
    if deficit > 0:
        raise RenderInputError(f"cannot fit note durations to {total} frames")
    return out


def mix_speakers(embeds: ArrayLike, weights: ArrayLike, default: ArrayLike) -> F32:
    """[T, H] speaker embedding per frame/token: weights [T, S] summing above 1 are normalised, else the default
    speaker (index per row) takes the rest (OpenUtau's voice-colour mixing)."""
    emb = np.asarray(embeds, dtype=np.float32)
    w = np.asarray(weights, dtype=np.float32).copy()
    d = np.asarray(default, dtype=np.int64)
    total = w.sum(axis=1)
    over = total > 1
    w[over] /= total[over, None]
    rows = np.nonzero(~over)[0]
    w[rows, d[rows]] += 1 - total[rows]
    return (w @ emb).astype(np.float32)


def sampling_settings(
    continuous: bool, variable_depth: bool, max_depth: float, steps: int, depth: float = 1.0
) -> tuple[float | None, int | None]:
    """(depth, speedup) fed to the acoustic model: depth = min(depth, max_depth) when variable; the older DDPM
    graphs get an integer speedup (and depth in steps of 1000) instead of steps."""
    if steps <= 0:
        raise RenderInputError(f"steps must be positive, got {steps}")
    real = min(depth, max_depth) if variable_depth else 1.0
    if continuous:
        return (real if variable_depth else None), None
    if variable_depth:
        k = round(real * 1000)
        speedup = max(1, k // steps)
        return float(k // speedup * speedup), speedup
    return None, ddpm_speedup(steps)


def ddpm_speedup(steps: int) -> int:
    """The largest factor of 1000 not above 1000 / steps (OpenUtau, for graphs without continuous acceleration)."""
    speedup = max(1, 1000 // steps)
    while 1000 % speedup != 0 and speedup > 1:
        speedup -= 1
    return speedup


def gender_from_genc(genc: ArrayLike, key_shift_range: tuple[float, float]) -> F32:
    """GENC (100 = 12 semitones of formant shift, positive = down) to the graph's gender in [-1, 1]."""
    g = np.asarray(genc, dtype=np.float64)
    low, high = key_shift_range
    pos = 0.0 if high == 0 else 12 / high / 100
    neg = 0.0 if low == 0 else -12 / low / 100
    return np.where(g < 0, -g * pos, -g * neg).astype(np.float32)


def velocity_from_velc(velc: ArrayLike) -> F32:
    """VELC (100 = original speed, +100 = twice) to the graph's velocity, clipped to [0.5, 2]."""
    v = np.power(2.0, (np.asarray(velc, dtype=np.float64) - 100) / 100)
    return np.clip(v, 0.5, 2.0).astype(np.float32)


def midi_to_hz(midi: ArrayLike) -> F32:
    """440 * 2^((midi - 69) / 12)."""
    return (440.0 * np.power(2.0, (np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)).astype(np.float32)


def rescale_mel_base(mel: ArrayLike, acoustic_base: str, vocoder_base: str) -> F32:
    """Convert a log-mel between bases ln and log10 (OpenUtau's constants) when the vocoder wants the other."""
    m = np.asarray(mel, dtype=np.float32)
    if acoustic_base == vocoder_base:
        return m
    k = np.float32(2.30259) if vocoder_base == "e" else np.float32(0.434294)
    return (m * k).astype(np.float32)


def sample_curve(times_ms: ArrayLike, values: ArrayLike, frame_times_ms: ArrayLike) -> NDArray[np.float64]:
    """Linear interpolation at frame times, held constant beyond the ends (OpenUtau's SampleCurve)."""
    t = np.asarray(times_ms, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if t.size == 0:
        raise RenderInputError("empty curve")
    return np.interp(np.asarray(frame_times_ms, dtype=np.float64), t, v)
