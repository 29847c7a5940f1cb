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

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from singer_tasks.settings import RenderType

# Document collections.
JOBS = "jobs"
USERS = "users"
# Blob prefix of the users' scores: `uploads/{uid}/{scoreId}{.musicxml|.mxl}`; also the name of the
# collection `users/{uid}/uploads/{scoreId}` describing each (title, verses, parts, file name).
UPLOADS = "uploads"
# Blob prefixes of a job's files: its outputs `jobs/{jobId}/...` and intermediates
# `intermediate/{jobId}/...` (GCS lifecycle rules match literal prefixes, hence the fixed first part).
OUTPUT_PREFIX = "jobs"
INTERMEDIATE_PREFIX = "intermediate"

__all__ = [
    "INTERMEDIATE_PREFIX",
    "JOBS",
    "KEY_SHIFT_RANGE",
    "OUTPUT_PREFIX",
    "TEMPO_FACTOR_RANGE",
    "UPLOADS",
    "USERS",
    "Credits",
    "Expression",
    "Job",
    "JobFailure",
    "JobOutputs",
    "JobShare",
    "JobStage",
    "JobStatus",
    "Progress",
    "RenderType",
    "StoredModel",
    "User",
    "job_blob_prefixes",
    "job_path",
    "score_id_of",
    "upload_info_collection",
    "upload_info_path",
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


def upload_info_collection(uid: str) -> str:
    """The collection of what the API read of a user's uploads (one document per score)."""
    return f"{USERS}/{uid}/{UPLOADS}"


def upload_info_path(uid: str, score_id: str) -> str:
    """Document path of what the API read of a user's upload: `{title, verses, parts, filename, size,
    readable}` (see api/routes/uploads.py). Deleting a user deletes it with her other documents."""
    return f"{upload_info_collection(uid)}/{score_id}"


def job_blob_prefixes(job_id: str) -> tuple[str, str]:
    """The blob prefixes holding a job's files (outputs, then intermediates), each ending in '/'."""
    return f"{OUTPUT_PREFIX}/{job_id}/", f"{INTERMEDIATE_PREFIX}/{job_id}/"


class JobStatus(StrEnum):
    """pending -> processing -> completed | failed; pending | processing -> cancelled."""

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
    """How far a job got: the stage and its fraction 0..1.

    While phrases render the stored document also holds `total` (the song's phrases) and
    `stageStartedAt` (when the phrase stage began), from which the API reports phrases done and an
    estimate of the time left; both are absent (None) otherwise and in older documents.
    """

    stage: JobStage
    fraction: float = Field(ge=0.0, le=1.0)
    total: int | None = Field(default=None, ge=0)
    stage_started_at: float | None = None

    def to_document(self) -> dict[str, Any]:
        """The stored form, without the fields a stage does not use."""
        data: dict[str, Any] = self.model_dump(by_alias=True, mode="json", exclude_none=True)
        return data


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


class JobShare(StoredModel):
    """A completed job's active share link, as its owner sees it (the job document is readable by its
    owner only; `shares/{sha256(token)}` holds the public side, see singer_tasks/jobs/shares.py)."""

    token: str
    url: str  # the SPA path /s/{token}
    expires_at: float


KEY_SHIFT_RANGE = (-24, 24)  # semitones
TEMPO_FACTOR_RANGE = (0.25, 4.0)  # 2.0 sings twice as fast


def score_id_of(input_path: str) -> str:
    """The scoreId in an upload's blob key (`uploads/{uid}/{scoreId}.ext`)."""
    return input_path.rsplit("/", 1)[-1].split(".", 1)[0]


class Job(StoredModel):
    """`jobs/{jobId}` (see docs/architecture.md, "Documents"); `id` is the document's id, not a field.

    title, scoreId, filename: the song's name (renamable), its upload and the user's file name (error
    messages name the file, never the upload id). keyShift (semitones), tempoFactor (2 = twice as
    fast), verse (a lyric line label), part (a MusicXML part id): the musical options the render
    applies. Documents written before these fields existed load with defaults (no shift, the score's
    tempo, the parser's choice of verse and part; the title and file name from the upload's key).
    """

    id: str
    user_id: str
    status: JobStatus
    render_type: RenderType
    voice: str
    title: str = ""
    score_id: str = ""
    filename: str = ""
    key_shift: int = Field(default=0, ge=KEY_SHIFT_RANGE[0], le=KEY_SHIFT_RANGE[1])
    tempo_factor: float = Field(default=1.0, ge=TEMPO_FACTOR_RANGE[0], le=TEMPO_FACTOR_RANGE[1])
    verse: str | None = None
    part: str | None = None
    share: JobShare | None = None
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

    @model_validator(mode="before")
    @classmethod
    def _older_documents(cls, data: Any) -> Any:
        # A document from before titles and file names: both from the upload's key.
        if not isinstance(data, dict):
            return data
        input_path = data.get("inputPath", data.get("input_path"))
        if not isinstance(input_path, str):
            return data
        filled = dict(data)
        stored = input_path.rsplit("/", 1)[-1]
        for camel, snake, default in (
            ("scoreId", "score_id", score_id_of(input_path)),
            ("filename", "filename", stored),
            ("title", "title", (filled.get("filename") or stored).rsplit(".", 1)[0]),
        ):
            if not filled.get(camel) and not filled.get(snake):
                filled[camel] = default
        return filled

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
