"""The job and user documents as types: statuses, stages, and where each document and blob lives.

Torch-free (pydantic only): the API, the render tasks and `transitions.py` share these types. A
document is stored in camelCase (`userId`, `renderType`, ...); Python reads it in snake_case.
`Job.from_document(id, data)` validates a stored job, `Job.to_document()` is what gets written. The
API's response schema (`api.schemas.Job`) is built from the same types, so the OpenAPI document's
`status` and `progress.stage` enums are exactly the values stored here.

Collections and blob prefixes are named once, below; build paths with the helpers, never with
string literals.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from singer_tasks.settings import RenderType

# Document collections.
JOBS = "jobs"
USERS = "users"
# Blob prefix of the users' scores: `uploads/{uid}/{scoreId}{.musicxml|.mxl}`. (A job's outputs and
# intermediates live under `render/job.py`'s OUTPUT_PREFIX and INTERMEDIATE_PREFIX.)
UPLOADS = "uploads"

__all__ = [
    "JOBS",
    "UPLOADS",
    "USERS",
    "Credits",
    "Expression",
    "Job",
    "JobFailure",
    "JobOutputs",
    "JobStage",
    "JobStatus",
    "Progress",
    "RenderType",
    "StoredModel",
    "User",
    "job_path",
    "upload_key",
    "user_path",
]


def job_path(job_id: str) -> str:
    """Document path of a job."""
    return f"{JOBS}/{job_id}"


def user_path(uid: str) -> str:
    """Document path of a user."""
    return f"{USERS}/{uid}"


def upload_key(uid: str, score_id: str, ext: str) -> str:
    """Blob key of a user's uploaded score (`ext` with its dot: `.musicxml` or `.mxl`)."""
    return f"{UPLOADS}/{uid}/{score_id}{ext}"


class JobStatus(StrEnum):
    """pending -> processing -> completed | failed; pending -> cancelled (only a pending job)."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """Whether the job can change no more."""
        return self in TERMINAL

    @property
    def in_flight(self) -> bool:
        """Whether the job still holds its reservation and counts against the user's jobs in flight."""
        return self in IN_FLIGHT


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
IN_FLIGHT = frozenset({JobStatus.PENDING, JobStatus.PROCESSING})


class JobStage(StrEnum):
    """Every `progress.stage` a job document holds, in the order a render goes through them.

    queued: created, waiting for a worker (written by `create_job`). download, parse: `singer.render`
    fetches the score, then parses and phonemizes it (`render/job.py`'s `prepare`). phrases: the
    phrase tasks sing (the API derives the fraction from the chord's members). done: completed.
    """

    QUEUED = "queued"
    DOWNLOAD = "download"
    PARSE = "parse"
    PHRASES = "phrases"
    DONE = "done"


class Expression(StrEnum):
    """Where durations and pitch come from, for a voice with duration or pitch models.

    voice: the voice's own predictions (its phrasing and pitch curve); score: the notes as written.
    """

    VOICE = "voice"
    SCORE = "score"


class StoredModel(BaseModel):
    """A stored document: camelCase on disk, snake_case in Python; unknown stored fields are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore")

    def to_document(self) -> dict[str, Any]:
        """The stored form: camelCase keys, plain JSON values."""
        data: dict[str, Any] = self.model_dump(by_alias=True, mode="json")
        return data


class Progress(StoredModel):
    """How far a job got: the stage and its fraction 0..1."""

    stage: JobStage
    fraction: float = Field(ge=0.0, le=1.0)


class JobFailure(StoredModel):
    """Why a job failed: a stable code (singer_tasks/errors.py, or taskkit's) and a sentence."""

    code: str
    message: str


class Credits(StoredModel):
    """A job's side of the ledger: what it reserved, and once ended what it was charged and refunded."""

    reserved: int
    charged: int = 0
    refunded: int = 0


class JobOutputs(StoredModel):
    """Blob keys of a completed job's files."""

    wav: str
    ds: str | None = None
    display: str | None = None
    flac: str | None = None  # lossless, bit-identical to the WAV's PCM
    listen: str | None = None  # compressed for listening (MP3)


class Job(StoredModel):
    """`jobs/{jobId}` (see docs/architecture.md, "Documents"); `id` is the document's id, not a field."""

    id: str
    user_id: str
    status: JobStatus
    render_type: RenderType
    voice: str
    speaker: str | None = None
    expression: Expression | None = None
    language: str | None = None
    input_path: str
    output_path: str | None = None
    outputs: JobOutputs | None = None
    duration_seconds: float | None = None
    progress: Progress = Progress(stage=JobStage.QUEUED, fraction=0.0)
    error: JobFailure | None = None
    attempts: int = 0
    credits: Credits
    created_at: float
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None

    @classmethod
    def from_document(cls, job_id: str, data: dict[str, Any]) -> Job:
        """A stored job document (camelCase) as a Job."""
        return cls.model_validate({**data, "id": job_id})

    def to_document(self) -> dict[str, Any]:
        """The document to store (camelCase, plain JSON values, without the id)."""
        data: dict[str, Any] = self.model_dump(by_alias=True, mode="json", exclude={"id"})
        return data


class User(StoredModel):
    """`users/{uid}`: the balance, what jobs in flight hold of it, and how many there are."""

    uid: str
    credits: int
    reserved: int = 0
    in_flight: int = 0
    plan: str = "free"
    created_at: float | None = None
    # the `seq` of the user's last ledger entry (singer_tasks/jobs/ledger.py)
    ledger_seq: int = 0
    # the month (YYYY-MM) of the last monthly refill (singer_tasks/jobs/plans.py)
    refilled_for: str | None = None

    @property
    def available(self) -> int:
        """What a new job may reserve."""
        return self.credits - self.reserved

    @classmethod
    def from_document(cls, uid: str, data: dict[str, Any]) -> User:
        """A stored user document as a User."""
        return cls.model_validate({**data, "uid": uid})

    def to_document(self) -> dict[str, Any]:
        """The document to store (camelCase, without the uid)."""
        data: dict[str, Any] = self.model_dump(by_alias=True, mode="json", exclude={"uid"})
        return data
