"""A voice as a chain of optional stages: duration -> pitch -> variance -> acoustic -> vocoder.

Where a voice has a stage, its model decides; where it lacks one, the rules fill in: the phrase's own
(rule-made) phoneme timing, the score's f0 curve with its vibrato, the voice's default curves. The
`expression` of a render chooses between the voice's own timing and pitch (``voice``, the default where the
voice has a duration or pitch model) and the score exactly as written (``score``: the phrase's durations
and f0, whatever models the voice has).

`ChainTrace` records what a render fed the acoustic model (durations, f0, curves) and where each came
from, so tests and tools can check the chain without estimating pitch from audio.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from singer_tasks.errors import RenderInputError

Expression = Literal["voice", "score"]
EXPRESSIONS: tuple[Expression, ...] = ("voice", "score")
STAGES = ("duration", "pitch", "variance", "acoustic", "vocoder")
Source = Literal["model", "score", "defaults"]


def check_expression(expression: str | None) -> Expression | None:
    """`expression` as the Expression type; RenderInputError for anything but voice, score or None."""
    if expression is None:
        return None
    if expression == "voice":
        return "voice"
    if expression == "score":
        return "score"
    raise RenderInputError(f"expression must be 'voice' or 'score', got {expression!r}")


@dataclass(frozen=True)
class Chain:
    """The stages a voice has, in chain order."""

    stages: tuple[str, ...]

    def __post_init__(self) -> None:
        unknown = [s for s in self.stages if s not in STAGES]
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; stages are {STAGES}")

    def has(self, stage: str) -> bool:
        """Whether the voice has its own model for `stage`."""
        return stage in self.stages

    @property
    def expressive(self) -> bool:
        """Whether `voice` expression differs from `score`: the voice predicts timing or pitch."""
        return self.has("duration") or self.has("pitch")

    def resolve(self, expression: str | None) -> Expression:
        """The expression a render uses: the requested one, else `voice` where the voice has timing or pitch
        models. A voice without them sings the score either way, so `voice` resolves to `score` there (one
        phrase-cache entry for both)."""
        chosen = check_expression(expression) or "voice"
        return chosen if self.expressive else "score"


def choose_speaker(voice_name: str, speakers: Sequence[str], speaker: str | None) -> str | None:
    """The speaker a render uses: the requested one (which must exist), else the voice's first."""
    if speaker is None or speaker == "":
        return speakers[0] if speakers else None
    if speaker not in speakers:
        have = ", ".join(speakers) if speakers else "none (a single-speaker voice)"
        raise RenderInputError(f"voice {voice_name!r} has no speaker {speaker!r}; its speakers: {have}")
    return speaker


@dataclass(frozen=True)
class ChainTrace:
    """What one phrase render fed the acoustic model, on the phrase's own timeline (seconds from its start)."""

    expression: Expression
    speaker: str | None
    durations_s: tuple[float, ...]  # per phoneme of the phrase
    durations_from: Source
    f0_times_s: NDArray[np.float64]  # acoustic frame times
    f0_hz: NDArray[np.float32]  # what the acoustic model heard (0 where unvoiced)
    pitch_from: Source
    curves: Mapping[str, NDArray[np.float32]] = field(default_factory=dict)  # variance curves per frame
    curves_from: Source = "defaults"
