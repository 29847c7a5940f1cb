"""Path parameters, validated at the edge: a malformed id is a 422 naming the parameter, never a
backend path error (or a traceback) further in.

Job and score ids are what the API issues: 32 lower-case hex digits (`uuid.uuid4().hex`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

ID_PATTERN = r"^[0-9a-f]{32}$"

JobId = Annotated[
    str,
    Path(min_length=32, max_length=32, pattern=ID_PATTERN, description="a job id (32 hex digits)"),
]
ScoreId = Annotated[
    str,
    Path(min_length=32, max_length=32, pattern=ID_PATTERN, description="a score id (32 hex digits)"),
]
