"""One function per graph, fed numpy arrays without the batch axis (added here), returning arrays without it.

Each builds the exact feed OpenUtau builds for that graph (names, dtypes, a leading batch axis of 1, scalars
``steps`` / ``depth`` / ``speedup`` as shape [1]) and checks it against the session's input names first, as
OpenUtau's Onnx.VerifyInputNames does. `extra` adds inputs beyond OpenUtau's (tests feed the noise of a graph
rewritten to take it as an input).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnxruntime as ort
from numpy.typing import ArrayLike, NDArray

from singer_tasks.errors import VoiceConfigError

Array = NDArray[np.generic]
F32 = NDArray[np.float32]


def _batch(x: ArrayLike, dtype: type[np.generic]) -> Array:
    """Add the batch axis, in the dtype the graph takes (contiguous, as onnxruntime wants)."""
    return np.ascontiguousarray(np.asarray(x, dtype=dtype)[None])


def _scalar(x: float, dtype: type[np.generic]) -> Array:
    """A scalar input as OpenUtau feeds it: shape [1]."""
    return np.array([x], dtype=dtype)


def _run(
    session: ort.InferenceSession, feed: dict[str, Array], outputs: list[str], extra: Mapping[str, ArrayLike] | None
) -> list[Array]:
    """Check the feed's names against the graph's, run, return the named outputs."""
    for name, value in (extra or {}).items():
        feed[name] = np.ascontiguousarray(np.asarray(value))
    wanted = {i.name for i in session.get_inputs()}
    missing, unexpected = sorted(wanted - set(feed)), sorted(set(feed) - wanted)
    if missing or unexpected:
        raise VoiceConfigError(f"graph inputs differ from the feed: missing {missing}, unexpected {unexpected}")
    result = session.run(outputs, feed)
    return [np.asarray(r) for r in result]


def _sampling_feed(steps: int, depth: float | None, speedup: int | None) -> dict[str, Array]:
    """steps (+ float depth) for continuous acceleration; speedup (+ int64 depth) for the older DDPM graphs."""
    if speedup is not None:
        feed = {"speedup": _scalar(speedup, np.int64)}
        if depth is not None:
            feed["depth"] = _scalar(round(depth), np.int64)
        return feed
    feed = {"steps": _scalar(steps, np.int64)}
    if depth is not None:
        feed["depth"] = _scalar(depth, np.float32)
    return feed


def run_linguistic(
    session: ort.InferenceSession,
    tokens: ArrayLike,
    *,
    word_div: ArrayLike | None = None,
    word_dur: ArrayLike | None = None,
    ph_dur: ArrayLike | None = None,
    languages: ArrayLike | None = None,
    extra: Mapping[str, ArrayLike] | None = None,
) -> tuple[F32, NDArray[np.bool_]]:
    """Linguistic encoder -> (encoder_out [N, H], x_masks [N]); word mode or phoneme mode by what is given."""
    feed = {"tokens": _batch(tokens, np.int64)}
    if word_div is not None and word_dur is not None:
        feed["word_div"] = _batch(word_div, np.int64)
        feed["word_dur"] = _batch(word_dur, np.int64)
    if ph_dur is not None:
        feed["ph_dur"] = _batch(ph_dur, np.int64)
    if languages is not None:
        feed["languages"] = _batch(languages, np.int64)
    enc, masks = _run(session, feed, ["encoder_out", "x_masks"], extra)
    return enc[0].astype(np.float32), masks[0].astype(np.bool_)


def run_dur(
    session: ort.InferenceSession,
    encoder_out: ArrayLike,
    x_masks: ArrayLike,
    ph_midi: ArrayLike,
    *,
    spk_embed: ArrayLike | None = None,
    extra: Mapping[str, ArrayLike] | None = None,
) -> F32:
    """Duration predictor -> ph_dur_pred [N] in frames (float, before OpenUtau's alignment to notes)."""
    feed = {
        "encoder_out": _batch(encoder_out, np.float32),
        "x_masks": _batch(x_masks, np.bool_),
        "ph_midi": _batch(ph_midi, np.int64),
    }
    if spk_embed is not None:
        feed["spk_embed"] = _batch(spk_embed, np.float32)
    (out,) = _run(session, feed, ["ph_dur_pred"], extra)
    return np.asarray(out[0], dtype=np.float32)


def run_pitch(
    session: ort.InferenceSession,
    encoder_out: ArrayLike,
    ph_dur: ArrayLike,
    note_midi: ArrayLike,
    note_dur: ArrayLike,
    pitch: ArrayLike,
    retake: ArrayLike,
    *,
    steps: int = 10,
    speedup: int | None = None,
    note_rest: ArrayLike | None = None,
    expr: ArrayLike | None = None,
    spk_embed: ArrayLike | None = None,
    extra: Mapping[str, ArrayLike] | None = None,
) -> F32:
    """Pitch predictor -> pitch_pred [T] in MIDI. `speedup` replaces `steps` for non-continuous graphs."""
    feed = {
        "encoder_out": _batch(encoder_out, np.float32),
        "ph_dur": _batch(ph_dur, np.int64),
        "note_midi": _batch(note_midi, np.float32),
        "note_dur": _batch(note_dur, np.int64),
        "pitch": _batch(pitch, np.float32),
        "retake": _batch(retake, np.bool_),
        **_sampling_feed(steps, None, speedup),
    }
    if note_rest is not None:
        feed["note_rest"] = _batch(note_rest, np.bool_)
    if expr is not None:
        feed["expr"] = _batch(expr, np.float32)
    if spk_embed is not None:
        feed["spk_embed"] = _batch(spk_embed, np.float32)
    (out,) = _run(session, feed, ["pitch_pred"], extra)
    return np.asarray(out[0], dtype=np.float32)


def run_variance(
    session: ort.InferenceSession,
    encoder_out: ArrayLike,
    ph_dur: ArrayLike,
    pitch: ArrayLike,
    curves: Mapping[str, ArrayLike],
    retake: ArrayLike,
    *,
    steps: int = 20,
    speedup: int | None = None,
    spk_embed: ArrayLike | None = None,
    extra: Mapping[str, ArrayLike] | None = None,
) -> dict[str, F32]:
    """Variance predictor -> {name: curve [T]} for each name in `curves` (the predicted ones, in order)."""
    feed = {
        "encoder_out": _batch(encoder_out, np.float32),
        "ph_dur": _batch(ph_dur, np.int64),
        "pitch": _batch(pitch, np.float32),
        "retake": _batch(retake, np.bool_),
        **_sampling_feed(steps, None, speedup),
    }
    for name, curve in curves.items():
        feed[name] = _batch(curve, np.float32)
    if spk_embed is not None:
        feed["spk_embed"] = _batch(spk_embed, np.float32)
    names = list(curves)
    outs = _run(session, feed, [f"{n}_pred" for n in names], extra)
    return {n: o[0].astype(np.float32) for n, o in zip(names, outs, strict=True)}


def run_acoustic(
    session: ort.InferenceSession,
    tokens: ArrayLike,
    durations: ArrayLike,
    f0: ArrayLike,
    *,
    steps: int = 20,
    depth: float | None = None,
    speedup: int | None = None,
    languages: ArrayLike | None = None,
    gender: ArrayLike | None = None,
    velocity: ArrayLike | None = None,
    curves: Mapping[str, ArrayLike] | None = None,
    spk_embed: ArrayLike | None = None,
    extra: Mapping[str, ArrayLike] | None = None,
) -> F32:
    """Acoustic model -> mel [T, num_mel_bins] in the model's mel base (OpenUtau feeds only what the config implies)."""
    feed = {
        "tokens": _batch(tokens, np.int64),
        "durations": _batch(durations, np.int64),
        "f0": _batch(f0, np.float32),
        **_sampling_feed(steps, depth, speedup),
    }
    if languages is not None:
        feed["languages"] = _batch(languages, np.int64)
    if gender is not None:
        feed["gender"] = _batch(gender, np.float32)
    if velocity is not None:
        feed["velocity"] = _batch(velocity, np.float32)
    for name, curve in (curves or {}).items():
        feed[name] = _batch(curve, np.float32)
    if spk_embed is not None:
        feed["spk_embed"] = _batch(spk_embed, np.float32)
    outputs = [session.get_outputs()[0].name]  # OpenUtau takes the first output, whatever its name
    (mel,) = _run(session, feed, outputs, extra)
    return np.asarray(mel[0], dtype=np.float32)


def run_vocoder(
    session: ort.InferenceSession, mel: ArrayLike, f0: ArrayLike, *, extra: Mapping[str, ArrayLike] | None = None
) -> F32:
    """Vocoder -> waveform [T * hop_size] float32."""
    feed = {"mel": _batch(mel, np.float32), "f0": _batch(f0, np.float32)}
    outputs = [session.get_outputs()[0].name]
    (wav,) = _run(session, feed, outputs, extra)
    if wav.ndim != 2 or wav.shape[0] != 1:
        raise VoiceConfigError(f"vocoder output should be (1, length), got {wav.shape}")
    return np.asarray(wav[0], dtype=np.float32)
