"""Request and response models of the public API (they make the OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

RenderTypeField = Literal["preview", "final"]
JobStatus = Literal["pending", "processing", "completed", "failed", "cancelled"]


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
    render_type: RenderTypeField = "final"
    voice: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    language: Literal["en", "zh"] | None = None


class Progress(BaseModel):
    stage: str
    fraction: float


class JobError(BaseModel):
    code: str
    message: str


class Credits(BaseModel):
    reserved: int
    charged: int
    refunded: int


class Job(CamelModel):
    """A render job as its owner sees it."""

    id: str
    status: JobStatus
    render_type: RenderTypeField
    voice: str
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
    def from_doc(cls, doc: dict[str, Any]) -> Job:
        return cls.model_validate(doc)


class JobPage(CamelModel):
    """One page of the caller's jobs, newest first."""

    jobs: list[Job]
    next_before: float | None


class OutputUrls(CamelModel):
    """Short-lived signed URLs to a completed job's files."""

    url: str
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


class Problem(BaseModel):
    """An error answer."""

    detail: str
    code: str | None = None
