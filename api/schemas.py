"""Request and response models of the public API (they make the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from singer_tasks.errors import SingerError
from singer_tasks.jobs import ledger, model
from singer_tasks.jobs.ledger import LedgerKind
from singer_tasks.jobs.model import (
    KEY_SHIFT_RANGE,
    TEMPO_FACTOR_RANGE,
    Credits,
    Expression,
    JobStage,
    JobStatus,
    RenderType,
)

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
    "JobRename",
    "JobStage",
    "JobStatus",
    "LedgerEntry",
    "LedgerKind",
    "LocalSignIn",
    "Me",
    "OutputUrls",
    "PhraseList",
    "Problem",
    "Progress",
    "ReadyPhrase",
    "RenderType",
    "ScorePart",
    "Share",
    "ShareCreate",
    "SharedSong",
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


class ScorePart(CamelModel):
    """A part of a score: its MusicXML id (what `JobCreate.part` takes), its name, whether it has lyrics."""

    id: str
    name: str
    has_lyrics: bool


class Upload(CamelModel):
    """A stored score, with what a quick read of it found (a file that could not be read has its file
    name for a title and no verses or parts: a job on it fails with the reason)."""

    score_id: str
    filename: str = Field(description="The user's own file name.")
    size: int
    title: str = Field(description="The score's work or movement title, else the file name without extension.")
    verses: list[str] = Field(description="The lyric line labels (JobCreate.verse takes one); [] when none.")
    parts: list[ScorePart] = Field(description="The score's parts in order (JobCreate.part takes an id).")


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
    title: str | None = Field(
        default=None, min_length=1, max_length=200, description="The song's name; unset: the score's title."
    )
    key_shift: int = Field(
        default=0, ge=KEY_SHIFT_RANGE[0], le=KEY_SHIFT_RANGE[1], description="Transpose by this many semitones."
    )
    tempo_factor: float = Field(
        default=1.0,
        ge=TEMPO_FACTOR_RANGE[0],
        le=TEMPO_FACTOR_RANGE[1],
        description="Sing this many times as fast as written (2.0: twice as fast, half as long).",
    )
    verse: str | None = Field(
        default=None, min_length=1, max_length=64, description="A label of Upload.verses; unset: the first verse."
    )
    part: str | None = Field(
        default=None, min_length=1, max_length=64, description="An id of Upload.parts; unset: the sung part is chosen."
    )


class JobRename(CamelModel):
    """A new name for a song."""

    title: str = Field(min_length=1, max_length=200)


def _is_none(value: object) -> bool:
    return value is None


class Progress(CamelModel):
    """How far a job got: its stage and the fraction 0..1 of it done. While phrases render, also the
    phrases done out of the total and an estimate of the seconds left (absent until one phrase is done)."""

    stage: JobStage
    fraction: float = Field(ge=0.0, le=1.0)
    # Absent outside the phrase stage (rather than null), so a finished job's progress stays {stage, fraction}.
    done: int | None = Field(default=None, exclude_if=_is_none, description="Phrases rendered so far.")
    total: int | None = Field(default=None, exclude_if=_is_none, description="The song's phrases.")
    eta_seconds: float | None = Field(
        default=None, exclude_if=_is_none, description="Seconds left, estimated from the phrases done so far."
    )


class JobError(BaseModel):
    """Why a job failed: a stable code and a sentence naming what to fix."""

    code: str = Field(
        description="A code of singer_tasks/errors.py (see Problem.code), input_missing, or one of taskkit's "
        "(dead_lettered, max_attempts, bad_arguments, rejected)."
    )
    message: str


class Share(CamelModel):
    """A read-only link to one completed song: `url` is the SPA's path `/s/{token}`; anyone holding the
    token may listen until `expiresAt` (epoch seconds) or until its owner revokes it."""

    token: str
    url: str
    expires_at: float

    @classmethod
    def from_stored(cls, share: model.JobShare) -> Share:
        """The owner's view of a job's stored share."""
        return cls(token=share.token, url=share.url, expires_at=share.expires_at)


class Job(CamelModel):
    """A render job as its owner sees it: `singer_tasks.jobs.model.Job` without the server-side fields
    (owner, blob keys)."""

    id: str
    status: JobStatus
    render_type: RenderType
    voice: str
    title: str
    score_id: str
    filename: str = Field(description="The user's own file name of the score.")
    key_shift: int = 0
    tempo_factor: float = 1.0
    verse: str | None = None
    part: str | None = None
    share: Share | None = Field(default=None, description="The active share link (POST /v1/jobs/{id}/share).")
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
            title=job.title,
            score_id=job.score_id,
            filename=job.filename,
            key_shift=job.key_shift,
            tempo_factor=job.tempo_factor,
            verse=job.verse,
            part=job.part,
            share=Share.from_stored(job.share) if job.share else None,
            speaker=job.speaker,
            expression=job.expression,
            language=job.language,
            progress=Progress(stage=job.progress.stage, fraction=job.progress.fraction),
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
    sample_url: str | None = Field(
        default=None, description="GET it for a short sample of the voice (rendered once per voice version, cached)."
    )
    final_differs: bool = Field(
        default=True,
        description="false when preview and final render identically (e.g. the built-in voice): offer one type.",
    )


class ReadyPhrase(CamelModel):
    """One finished phrase of a job in flight: a 16-bit mono WAV at the voice's rate, starting at
    `offsetSeconds` on the song's timeline (see docs/architecture.md, "Sound within seconds")."""

    index: int
    offset_seconds: float = Field(description="where the phrase starts: a whole number of samples / sampleRate")
    duration_seconds: float
    sample_rate: int
    url: str = Field(description="short-lived signed URL to the phrase's WAV")
    next_offset_seconds: float | None = Field(
        default=None,
        description="where the next phrase starts (null for the last): with every phrase up to this one, the "
        "song's final samples are known up to there",
    )


class PhraseList(CamelModel):
    """The finished phrases of a job, to play while the rest renders."""

    total: int = Field(description="how many phrases the job has (0 until its score is split)")
    ready: list[ReadyPhrase]
    display_url: str | None = Field(
        default=None, description="the song's display data (as OutputUrls.displayUrl) once its score is split"
    )
    expires_in_s: int


class VoiceList(CamelModel):
    """The installed voices."""

    voices: list[Voice]


class ShareCreate(CamelModel):
    """How long a new share link lasts."""

    expires_in_days: int = Field(default=30, ge=1, le=365, description="Days until the link stops working.")


class SharedSong(CamelModel):
    """What anyone holding a share token sees: the song's name and voice, and short-lived signed URLs to
    listen (no sign-in; nothing else of the owner's)."""

    title: str
    voice: str
    duration_seconds: float | None
    listen_url: str | None = Field(description="a compressed file to listen to (MP3), when the song has one")
    listen_type: str | None = Field(description="its content type, e.g. audio/mpeg")
    url: str = Field(description="the WAV (16-bit PCM)")
    display: str | None = Field(description="the display data (notes, phonemes, f0) as JSON")
    expires_at: float = Field(description="when the share link stops working (epoch seconds)")
