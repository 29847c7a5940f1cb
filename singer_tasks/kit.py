"""The render service's settings, its Kit and the names both the API and the worker use.

Torch-free and music21-free: the API imports this module to send render tasks by name; the worker
imports `singer_tasks.render.tasks`, which registers the tasks on the same Kit.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Literal

from taskkit import ConfigError, Kit

RenderType = Literal["preview", "final"]
RENDER_TYPES: tuple[RenderType, ...] = ("preview", "final")
RENDER_TASK = "singer.render"
RENDER_TOPIC = "render-jobs"

# The application's Kit. Backends come from TASKKIT_* settings on first use.
kit = Kit("singer")


def render_task_id(job_id: str) -> str:
    """The render task's id (its idempotency key) derives from the job id."""
    return f"render-{job_id}"


@dataclass(frozen=True)
class ServiceSettings:
    """Cost controls and render settings, from SINGER_* variables.

    Credits: a final render costs one credit per started `final_seconds_per_credit` seconds of sung
    audio, a preview one per started `preview_seconds_per_credit`; creating a job reserves the cost
    of the longest song allowed, completion charges the real cost and releases the rest.
    max_song_seconds: a cost control only. Songs fan out over one task per phrase (at most 20 s of
    singing, well inside the push time limit at any measured model speed), so length is bounded by
    what a user may spend, not by the 600 s push deadline.
    render_time_limit_s: the time limit of one phrase task.
    """

    default_credits: int = 300
    max_jobs_in_flight: int = 3
    max_song_seconds: float = 600.0
    max_upload_bytes: int = 2_000_000
    final_seconds_per_credit: float = 10.0
    preview_seconds_per_credit: float = 30.0
    preview_steps: int = 8
    default_voice: str = "builtin"
    render_time_limit_s: float = 540.0
    stale_pending_s: float = 300.0
    signed_url_expiry_s: int = 900

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and value <= 0:
                raise ConfigError(f"SINGER_{f.name.upper()} must be positive, got {value}")

    def cost(self, seconds: float, render_type: RenderType) -> int:
        """Credits a render of `seconds` of song costs (at least 1)."""
        per = self.final_seconds_per_credit if render_type == "final" else self.preview_seconds_per_credit
        return max(1, math.ceil(seconds / per - 1e-9))

    def max_cost(self, render_type: RenderType) -> int:
        """What a job reserves: the cost of the longest song allowed."""
        return self.cost(self.max_song_seconds, render_type)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Defaults overridden by SINGER_<FIELD> variables; ConfigError names a bad one."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"SINGER_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            kind = type(getattr(cls(), f.name))
            try:
                values[f.name] = kind(raw)
            except ValueError as e:
                raise ConfigError(f"SINGER_{f.name.upper()}={raw!r} is not a valid {kind.__name__}") from e
        return cls(**values)  # type: ignore[arg-type]
