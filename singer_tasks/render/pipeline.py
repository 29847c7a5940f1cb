"""The torch side of a render: phrases -> one waveform at the voice's sample rate.

Each phrase is rendered on its own and placed at its offset; phrases that overlap (rounding) are
cross-faded, as openvpi does. `check_time` is called between phrases and between sampler steps so a
caller can enforce a time limit cooperatively (it raises to stop the render).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from singer_tasks.phrase import Phrase
from singer_tasks.voices.models import Voice, require_phrases

Progress = Callable[[str, float], None]


def _place(song: np.ndarray, length: int, wave: np.ndarray, start: int) -> tuple[np.ndarray, int]:
    """Add `wave` at `start` into song[:length], cross-fading any overlap; returns (song, new length)."""
    end = start + len(wave)
    if end > len(song):
        song = np.concatenate([song, np.zeros(max(end - len(song), len(song)), np.float32)])
    overlap = max(0, min(length, end) - start)
    if overlap > 0:
        fade = np.linspace(0.0, 1.0, overlap, dtype=np.float32)
        song[start : start + overlap] = song[start : start + overlap] * (1 - fade) + wave[:overlap] * fade
        song[start + overlap : end] = wave[overlap:]
    else:
        song[start:end] = wave
    return song, max(length, end)


def render_phrases(
    phrases: Sequence[Phrase],
    voice: Voice,
    *,
    steps: int | None = None,
    depth: float | None = None,
    progress: Progress | None = None,
    check_time: Callable[[], None] | None = None,
    seed: int = 0,
    precision: str | None = None,
) -> np.ndarray:
    """float32 mono waveform of the whole song at `voice.sample_rate`, silence before the first offset.

    progress(stage, fraction): stage is "render" while phrases are sung and "done" at the end;
    fraction runs from 0 to 1 over all phrases (weighted by their length) and sampler steps.
    precision: exact, fast or auto (see `singer_tasks.voices.runtime`); None keeps the voice's own setting.
    """
    require_phrases(voice, phrases)
    sr = voice.sample_rate
    total_s = sum(p.duration_s for p in phrases) or 1.0
    done_s = 0.0
    song = np.zeros(0, np.float32)
    length = 0
    for index, phrase in enumerate(phrases):
        if check_time is not None:
            check_time()
        share = phrase.duration_s / total_s
        base = done_s / total_s

        def on_step(i: int, n: int, base: float = base, share: float = share) -> None:
            if check_time is not None:
                check_time()
            if progress is not None:
                progress("render", base + share * 0.9 * i / max(n, 1))

        wave = voice.render_phrase(phrase, steps=steps, depth=depth, on_step=on_step, seed=seed + index,
                                   precision=precision)  # fmt: skip
        song, length = _place(song, length, wave, max(0, round(phrase.offset_s * sr)))
        done_s += phrase.duration_s
        if progress is not None:
            progress("render", done_s / total_s)
    if progress is not None:
        progress("done", 1.0)
    return song[:length]
