"""Phrases into one song: each rendered phrase at its offset, overlaps cross-faded, as 16-bit WAV.

Pure numpy, no I/O: the CLI's in-process render and the service's assembly task both call `assemble`,
so the two give the same samples.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Sequence

import numpy as np

from singer_tasks.phrase import Phrase


def place(song: np.ndarray, length: int, piece: np.ndarray, start: int) -> tuple[np.ndarray, int]:
    """Add `piece` at `start` into song[:length], cross-fading any overlap; returns (song, new length).

    `song` grows geometrically (amortised O(n) over a whole song), so only song[:length] is meaningful.
    """
    end = start + len(piece)
    if end > len(song):
        song = np.concatenate([song, np.zeros(max(end - len(song), len(song)), np.float32)])
    overlap = max(0, min(length, end) - start)
    if overlap > 0:
        fade = np.linspace(0.0, 1.0, overlap, dtype=np.float32)
        song[start : start + overlap] = song[start : start + overlap] * (1 - fade) + piece[:overlap] * fade
        song[start + overlap : end] = piece[overlap:]
    else:
        song[start:end] = piece
    return song, max(length, end)


def assemble(
    phrases: Sequence[Phrase], pieces: Sequence[np.ndarray], sample_rate: int, *, min_duration_s: float = 0.0
) -> np.ndarray:
    """The song: each phrase's samples at its offset (overlaps cross-faded), padded to `min_duration_s`."""
    song = np.zeros(0, np.float32)
    length = 0
    for phrase, piece in zip(phrases, pieces, strict=True):
        start = max(0, round(phrase.offset_s * sample_rate))
        song, length = place(song, length, np.asarray(piece, dtype=np.float32), start)
    song = song[:length]
    return np.pad(song, (0, max(0, round(min_duration_s * sample_rate) - len(song))))


def encode_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono 16-bit PCM WAV bytes of float samples in [-1, 1] (clipped)."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()
