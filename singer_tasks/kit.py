"""The render service's Kit and the task names both the API and the worker use.

Torch-free and music21-free: the API imports this module to send render tasks by name; the worker
imports `singer_tasks.render.tasks`, which registers the tasks on the same Kit.
"""

from __future__ import annotations

from collections.abc import Iterable

from taskkit import Kit

RENDER_TASK = "singer.render"
RENDER_TOPIC = "render-jobs"

# The application's Kit. Backends come from TASKKIT_* settings on first use.
kit = Kit("singer")


def render_topic(render_type: str, gpu_topic: str | None, gpu_render_types: Iterable[str] = ("final",)) -> str:
    """The topic a job's tasks go to: the GPU tier's (`SINGER_GPU_TOPIC`) for the render types it takes
    (`SINGER_GPU_RENDER_TYPES`, default final) when it is configured, else the CPU topic. Decided once
    per job: the render task sends its phrase tasks and assembly to the topic it chose."""
    return gpu_topic if gpu_topic and render_type in gpu_render_types else RENDER_TOPIC


def render_task_id(job_id: str) -> str:
    """The render task's id (its idempotency key) derives from the job id."""
    return f"render-{job_id}"
