"""Request and response models of the public API (they make the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from singer_tasks.errors import SingerError
from singer_tasks.jobs import ledger, model
from singer_tasks.jobs.ledger import LedgerKind
from singer_tasks.jobs.model import Credits, Expression, JobStage, JobStatus, Progress, RenderType

__all__ = [
    "CreditGrant",
    "CreditGrantResult",
    "Credits",
    "CreditsPage",
    "Expression",
    "Job",
    "JobCreate",
    "JobError",
    "JobPage",
    "JobStage",
    "JobStatus",
    "LedgerEntry",
    "LedgerKind",
    "LocalSignIn",
    "Me",
    "OutputUrls",
    "Problem",
    "Progress",
    "RenderType",
    "Token",
    "Upload",
    "UploadUrl",
    "UploadUrlRequest",
    "Voice",
    "VoiceList",
    "error_codes",
]


def error_codes() -> tuple[str, ...]:
    """Every stable code of singer_tasks' error tree (`SingerError` and all its subclasses), sorted."""
    codes: set[str] = set()
    pending: list[type[SingerError]] = [SingerError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return tuple(sorted(codes))


def _publish_error_codes(schema: dict[str, Any]) -> None:
    # Called when the OpenAPI document is generated, after every module defining an error was imported.
    schema["enum"] = list(error_codes())


ErrorCode = Annotated[
    str,
    Field(
        json_schema_extra=_publish_error_codes,
        description="The stable code of the domain error (singer_tasks/errors.py).",
    ),
]


class CamelModel(BaseModel):
    """JSON in camelCase (as the job documents), Python in snake_case."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class LocalSignIn(BaseModel):
    """Sign in as a local user (embedded stack only)."""

    uid: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$", examples=["demo"])


class Token(CamelModel):
    """A bearer token for the Authorization header."""

    token: str
    uid: str
    expires_at: float


class UploadUrlRequest(BaseModel):
    """Ask for a signed URL to upload a score."""

    filename: str = Field(min_length=1, max_length=255, examples=["song.musicxml"])


class UploadUrl(CamelModel):
    """Where to PUT the score, and the headers the PUT must carry."""

    score_id: str
    url: str
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str]
    max_bytes: int
    expires_in_s: int


class Upload(CamelModel):
    """A stored score."""

    score_id: str
    filename: str
    size: int


class JobCreate(CamelModel):
    """A render request."""

    score_id: str = Field(pattern=r"^[a-f0-9]{32}$")
    render_type: RenderType = "final"
    voice: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    language: Literal["en", "zh"] | None = None
    expression: Expression | None = Field(
        default=None,
        description="voice: the voice's own phrasing and pitch (voices with a duration or pitch stage); "
        "score: the notes as written. Unset: the voice's default.",
    )
    speaker: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="One of the voice's speakers (GET /v1/voices); unset: the voice's default speaker.",
    )


class JobError(BaseModel):
    """Why a job failed: a stable code and a sentence naming what to fix."""

    code: str = Field(
        description="A code of singer_tasks/errors.py (see Problem.code), input_missing, or one of taskkit's "
        "(dead_lettered, max_attempts, bad_arguments, rejected)."
    )
    message: str


class Job(CamelModel):
    """A render job as its owner sees it: `singer_tasks.jobs.model.Job` without the server-side fields
    (owner, blob keys)."""

    id: str
    status: JobStatus
    render_type: RenderType
    voice: str
    speaker: str | None = None
    expression: Expression | None = None
    language: str | None
    progress: Progress
    error: JobError | None
    credits: Credits
    attempts: int
    duration_seconds: float | None = None
    created_at: float
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None

    @classmethod
    def from_job(cls, job: model.Job) -> Job:
        """The owner's view of a stored job."""
        return cls(
            id=job.id,
            status=job.status,
            render_type=job.render_type,
            voice=job.voice,
            speaker=job.speaker,
            expression=job.expression,
            language=job.language,
            progress=job.progress,
            error=JobError(code=job.error.code, message=job.error.message) if job.error else None,
            credits=job.credits,
            attempts=job.attempts,
            duration_seconds=job.duration_seconds,
            created_at=job.created_at,
            updated_at=job.updated_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


class JobPage(CamelModel):
    """One page of the caller's jobs, newest first."""

    jobs: list[Job]
    next_before: float | None


class OutputUrls(CamelModel):
    """Short-lived signed URLs to a completed job's files; each but the WAV only when the job has it
    (older jobs have no FLAC or listening file)."""

    url: str = Field(description="the WAV (16-bit PCM)")
    flac_url: str | None = Field(default=None, description="the same PCM as lossless FLAC")
    listen_url: str | None = Field(default=None, description="a compressed file to listen to (MP3)")
    listen_type: str | None = Field(default=None, description="the listening file's content type, e.g. audio/mpeg")
    ds_url: str | None = Field(default=None, description="the sung phrases as an openvpi .ds file (JSON)")
    display_url: str | None = None
    expires_in_s: int


class Me(CamelModel):
    """The caller's account."""

    uid: str
    balance: int
    reserved: int
    available: int
    in_flight: int
    plan: str
    costs: dict[str, int]


class LedgerEntry(CamelModel):
    """One change of the caller's credits (see singer_tasks/jobs/ledger.py): `amount` is the change of
    the available credits; reserve, release and refund move the reservations, the others the balance."""

    id: str
    kind: LedgerKind
    amount: int
    balance_after: int
    reserved_after: int
    seq: int = Field(description="The entry's number in the user's ledger (1, 2, ...); page with `before`.")
    job_id: str | None = None
    reason: str | None = None
    actor: str
    at: float

    @classmethod
    def from_entry(cls, entry: ledger.LedgerEntry) -> LedgerEntry:
        """The API's view of a stored entry."""
        return cls.model_validate(entry.model_dump())


class CreditsPage(CamelModel):
    """The caller's balance and one page of their ledger, newest first."""

    balance: int
    reserved: int
    available: int
    plan: str
    entries: list[LedgerEntry]
    next_before: int | None = Field(description="Pass as `before` for the next page; null on the last page.")


class CreditGrant(CamelModel):
    """An operator's grant (a negative amount debits)."""

    amount: int = Field(description="Credits to add (negative: to take away); not zero.")
    reason: str = Field(min_length=1, max_length=500)
    request_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_\-]{1,64}$",
        description="An idempotency key: the same request id grants once.",
    )


class CreditGrantResult(CamelModel):
    """The user's balance after a grant, and its ledger entry (`created` false for a repeated request id)."""

    uid: str
    balance: int
    reserved: int
    entry: LedgerEntry
    created: bool


class Problem(BaseModel):
    """An error answer: `detail` in words; `code` (a domain error's stable code) when the domain raised it."""

    detail: str
    code: ErrorCode | None = None


class Voice(CamelModel):
    """An installed voice, as the voice menu shows it."""

    name: str
    author: str | None = None
    description: str | None = None
    languages: list[str]
    speakers: list[str] = Field(description="The voice's speakers; a job may name one (empty: a single voice).")
    stages: list[str] = Field(
        description="The voice's model stages (acoustic, duration, pitch, variance, vocoder...). With a duration or "
        "pitch stage a job may choose its expression (voice or score)."
    )
    licence: str | None = Field(default=None, description="The licence text users must see.")
    portrait_url: str | None = Field(default=None, description="GET it for the voice's portrait image.")


class VoiceList(CamelModel):
    """The installed voices."""

    voices: list[Voice]
