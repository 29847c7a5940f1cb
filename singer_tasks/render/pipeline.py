"""The one render path: phrases -> samples per phrase -> one song at the voice's sample rate.

`sing_phrase` renders one phrase with its index as the noise seed; `render_phrases` (the CLI's
in-process render) calls it for every phrase and then `assembly.assemble`. The service's phrase tasks
call the same `sing_phrase` (through the phrase cache) and its assembly task the same `assemble`, so a
fanned-out render equals the in-process one sample for sample. `check_time` is called between phrases
and sampler steps so a caller can enforce a time limit cooperatively (it raises to stop the render).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from singer_tasks.phrase import Phrase
from singer_tasks.render.assembly import assemble
from singer_tasks.voices.loader import require_phrases
from singer_tasks.voices.models import StepHook, Voice

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class RenderOptions:
    """How to sing: sampler steps and depth (None: the voice's defaults), precision (None: the voice's),
    expression (voice: the voice's own timing and pitch models, score: exactly as written; None: voice where
    it has them) and speaker (None: the voice's first)."""

    steps: int | None = None
    depth: float | None = None
    precision: str | None = None
    expression: Literal["voice", "score"] | None = None
    speaker: str | None = None


def sing_phrase(
    voice: Voice, phrase: Phrase, index: int, options: RenderOptions, on_step: StepHook | None = None
) -> np.ndarray:
    """float32 samples of phrase `index` of a song (its own timeline); the index is the noise seed."""
    samples = voice.render_phrase(
        phrase, steps=options.steps, depth=options.depth, on_step=on_step, seed=index, precision=options.precision,
        expression=options.expression, speaker=options.speaker,
    )  # fmt: skip
    return np.asarray(samples, dtype=np.float32)


def render_phrases(
    phrases: Sequence[Phrase],
    voice: Voice,
    *,
    options: RenderOptions | None = None,
    progress: Progress | None = None,
    check_time: Callable[[], None] | None = None,
    min_duration_s: float = 0.0,
) -> np.ndarray:
    """float32 mono waveform of the whole song at `voice.sample_rate`, silence before the first offset.

    progress(stage, fraction): stage is "render" while phrases are sung and "done" at the end;
    fraction runs from 0 to 1 over all phrases (weighted by their length) and sampler steps.
    """
    options = options or RenderOptions()
    voice.resolve_expression(options.expression)
    voice.resolve_speaker(options.speaker)  # an unknown speaker fails before the first phrase
    require_phrases(voice, phrases)
    total_s = sum(p.duration_s for p in phrases) or 1.0
    done_s = 0.0
    pieces = []
    for index, phrase in enumerate(phrases):
        if check_time is not None:
            check_time()
        share, base = phrase.duration_s / total_s, done_s / total_s

        def on_step(i: int, n: int, base: float = base, share: float = share) -> None:
            if check_time is not None:
                check_time()
            if progress is not None:
                progress("render", base + share * 0.9 * i / max(n, 1))

        pieces.append(sing_phrase(voice, phrase, index, options, on_step))
        done_s += phrase.duration_s
        if progress is not None:
            progress("render", done_s / total_s)
    song = assemble(phrases, pieces, voice.sample_rate, min_duration_s=min_duration_s)
    if progress is not None:
        progress("done", 1.0)
    return song
