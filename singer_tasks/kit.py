"""The render service's Kit and the task names both the API and the worker use.

Torch-free and music21-free: the API imports this module to send render tasks by name; the worker
imports `singer_tasks.render.tasks`, which registers the tasks on the same Kit.
"""

from __future__ import annotations

from taskkit import Kit

RENDER_TASK = "singer.render"
RENDER_TOPIC = "render-jobs"

# The application's Kit. Backends come from TASKKIT_* settings on first use.
kit = Kit("singer")


def render_task_id(job_id: str) -> str:
    """The render task's id (its idempotency key) derives from the job id."""
    return f"render-{job_id}"
