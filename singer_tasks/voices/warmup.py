"""Paying a voice's one-time costs when a worker starts, not in the first job's first phrase.

The first phrase a process renders with a voice is about 40 % slower than the next (measured on a 3 s
phrase, one thread: 3.3 s against 2.4 s): the int8 copy of the denoiser is made on first use, and
oneDNN builds its kernels on the first call of each layer. A half-second silent phrase pays both (about
1.2 s there), so a song's first phrase, the one its listener waits for, renders at full speed.
"""

from __future__ import annotations

import time
from typing import Any

import structlog

from singer_tasks.phrase import DEFAULT_F0_TIMESTEP_S, Phrase

log = structlog.get_logger("singer.voices")
WARM_UP_S = 0.5


def silent_phrase(seconds: float = WARM_UP_S) -> Phrase:
    """A phrase of one rest (`SP`, which every DiffSinger dictionary and the built-in voice have)."""
    frames = round(seconds / DEFAULT_F0_TIMESTEP_S) + 1
    return Phrase(0.0, ("SP",), (seconds,), (1,), ("rest",), (seconds,), (0,), (0.0,) * frames)


def warm_up(voice: Any, name: str = "") -> float | None:
    """Render a short silent phrase with `voice` (its default settings); returns the seconds it took, or
    None if it failed (logged: a voice that cannot sing silence still serves the phrases it can)."""
    start = time.perf_counter()
    try:
        voice.render_phrase(silent_phrase())
    except Exception as e:  # a warm-up must never keep a worker from starting
        log.warning("voice.warm_up_failed", voice=name, error=f"{type(e).__name__}: {e}")
        return None
    elapsed = time.perf_counter() - start
    log.info("voice.warmed_up", voice=name, seconds=round(elapsed, 2))
    return elapsed
