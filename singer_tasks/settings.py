"""The singing service's settings: one typed object, read from `SINGER_*` variables once, validated at start.

Torch-free and music21-free (the API reads it too). Nothing else in singer_tasks reads the
environment: code takes a `SingerSettings` (or one of its fields) as an argument, and the edges (the
API factory, the task module, the CLI) call `get_settings()`.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from singer_tasks.errors import SettingsError

RenderType = Literal["preview", "final"]
PrecisionMode = Literal["exact", "fast", "auto"]
ENV_PREFIX = "SINGER_"
REPOSITORY = Path(__file__).resolve().parents[1]
_PRECISION_ALIASES = {"fp32": "exact", "bf16": "fast"}


class SingerSettings(BaseSettings):
    """Cost controls, limits and render settings (`SINGER_<FIELD>`; e.g. SINGER_MAX_SONG_SECONDS=300).

    Credits: a final render costs one credit per started `final_seconds_per_credit` seconds of sung
    audio, a preview one per started `preview_seconds_per_credit`; creating a job reserves the cost
    of the longest song allowed, completion charges the real cost and releases the rest.
    max_song_seconds: a cost control only. Songs fan out over one task per phrase (at most 20 s of
    singing, well inside the push time limit), so length is bounded by what a user may spend.
    render_time_limit_s: the time limit of one phrase task.
    precision: exact (fp32, openvpi's output), fast (bf16 or int8 per stage: voices/runtime.py) or auto;
    unset, each voice's own setting.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, env_ignore_empty=True, extra="ignore")

    # credits and jobs
    default_credits: int = Field(300, gt=0)
    max_jobs_in_flight: int = Field(3, gt=0)
    final_seconds_per_credit: float = Field(10.0, gt=0)
    preview_seconds_per_credit: float = Field(30.0, gt=0)
    stale_pending_s: float = Field(300.0, gt=0)
    signed_url_expiry_s: int = Field(900, gt=0)
    # plans: each plan's monthly allowance, the balance topped up to it once a month (JSON in the
    # environment: SINGER_PLAN_ALLOWANCES='{"free": 300, "pro": 3000}')
    plan_allowances: Annotated[dict[str, int], NoDecode] = Field(default_factory=lambda: {"free": 300, "pro": 3000})
    # operators allowed the admin routes on the local family (comma-separated in the environment); on the
    # gcp family the caller's token must carry the custom claim `admin: true`
    admin_uids: Annotated[tuple[str, ...], NoDecode] = ()
    # browser origins allowed to call the API from another origin (comma-separated in the environment,
    # e.g. SINGER_CORS_ORIGINS=https://p.web.app,https://sing.example.com); empty: the project's Firebase
    # Hosting origins on the gcp family, none on the local family (the SPA is served by the API itself)
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # scores
    max_upload_bytes: int = Field(2_000_000, gt=0)
    max_xml_bytes: int = Field(30_000_000, gt=0)
    max_song_seconds: float = Field(600.0, gt=0)
    max_notes: int = Field(20_000, gt=0)
    # <note> elements over all parts that music21 may be asked to read (the parse budget's size)
    max_parse_notes: int = Field(30_000, gt=0)
    # seconds the parse stage may take; a parse that runs out of it fails for good (no retries)
    parse_budget_s: float = Field(60.0, gt=0)
    # abuse controls: failed jobs, uploads, sign-in trust
    max_failed_jobs_per_hour: int = Field(5, gt=0)
    max_uploads_per_hour: int = Field(30, gt=0)
    upload_quota_bytes: int = Field(50_000_000, gt=0)
    require_verified_email: bool = True
    # sign-in providers trusted without an `email_verified` claim (comma-separated in the environment)
    trusted_sign_in_providers: Annotated[tuple[str, ...], NoDecode] = ("google.com",)
    # event-stream tickets: lifetime, and the HMAC key shared by API instances (unset: the local
    # signing key on the embedded stack, a random key per process elsewhere)
    event_ticket_ttl_s: int = Field(60, gt=0, le=600)
    ticket_secret: str | None = Field(None, repr=False)
    # retention of user data in storage (days; the bucket's lifecycle rules say the same)
    upload_retention_days: int = Field(30, gt=0)
    job_retention_days: int = Field(90, gt=0)
    # intermediates (plans) and cached phrases: days after creation (terraform's lifecycle rules)
    intermediate_retention_days: int = Field(3, gt=0)
    phrase_cache_retention_days: int = Field(30, gt=0)
    # rendering
    preview_steps: int = Field(5, gt=0)  # docs/benchmarks.md: preview RTF by step count
    default_voice: str = "builtin"
    render_time_limit_s: float = Field(540.0, gt=0)
    precision: PrecisionMode | None = None
    voices_dir: Path = REPOSITORY / "checkpoints"
    voice_cache_dir: Path = Path("var/voices")
    phonemes_dir: Path = REPOSITORY / "phonemes"
    # streaming: phrase tasks add the ready phrases to the job document at most once per this many seconds
    ready_phrases_interval_s: float = Field(2.0, ge=0)
    # a job's first phrase is cut at a note onset within this many seconds (0: off), so the song can be
    # heard seconds after the job starts (phonemize/phrases.py short_first_phrase)
    first_phrase_s: float = Field(2.0, ge=0)
    # the GPU tier: final renders' tasks go to this topic when it is set (terraform's render-jobs-gpu);
    # unset, everything renders on the CPU topic. device: where models run (auto: cuda when torch sees a GPU)
    gpu_topic: str | None = None
    gpu_render_types: Annotated[tuple[RenderType, ...], NoDecode] = ("final",)
    device: Literal["auto", "cpu", "cuda"] = "auto"

    @field_validator("plan_allowances", mode="before")
    @classmethod
    def _allowances(cls, value: object) -> object:
        if isinstance(value, str):
            return json.loads(value)
        return value

    @field_validator("trusted_sign_in_providers", "admin_uids", "cors_origins", "gpu_render_types", mode="before")
    @classmethod
    def _providers(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            scheme, _, rest = origin.partition("://")
            if scheme not in ("http", "https") or not rest or "/" in rest:
                raise ValueError(f"{origin!r} is not an origin: write scheme://host[:port], no path")
        return value

    @field_validator("precision", mode="before")
    @classmethod
    def _precision_aliases(cls, value: object) -> object:
        if isinstance(value, str):
            lowered = value.strip().lower()
            return _PRECISION_ALIASES.get(lowered, lowered)
        return value

    def blob_lifecycle_rules(self) -> dict[str, float]:
        """The bucket's lifecycle rules as {prefix: age in seconds} (terraform/storage.tf says the same);
        the local blob store applies them on the embedded stack (taskkit.sweep.expire_local_blobs)."""
        day = 24 * 3600.0
        return {
            "intermediate/": self.intermediate_retention_days * day,
            "cache/phrases/": self.phrase_cache_retention_days * day,
            "uploads/": self.upload_retention_days * day,
            "jobs/": self.job_retention_days * day,
        }

    def cost(self, seconds: float, render_type: RenderType) -> int:
        """Credits a render of `seconds` of song costs (at least 1)."""
        per = self.final_seconds_per_credit if render_type == "final" else self.preview_seconds_per_credit
        return max(1, math.ceil(seconds / per - 1e-9))

    def max_cost(self, render_type: RenderType) -> int:
        """What a job reserves: the cost of the longest song allowed."""
        return self.cost(self.max_song_seconds, render_type)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SingerSettings:
        """Settings from `environ` (default: the process environment); SettingsError names a bad variable."""
        try:
            if environ is None:
                return cls()
            values = {
                key.removeprefix(ENV_PREFIX).lower(): value
                for key, value in environ.items()
                if key.startswith(ENV_PREFIX) and value != ""
            }
            return cls.model_validate(values)
        except ValidationError as e:
            raise SettingsError(describe(e)) from e


def describe(error: ValidationError) -> str:
    """A ValidationError in words, naming each environment variable at fault."""
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        problems.append(f"{ENV_PREFIX}{field.upper()}={item.get('input')!r}: {item['msg']}")
    return "; ".join(problems)


@functools.lru_cache(maxsize=1)
def get_settings() -> SingerSettings:
    """The process's settings, read from the environment on first use and then kept."""
    return SingerSettings.from_env()
