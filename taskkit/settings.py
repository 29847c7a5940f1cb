"""Typed settings, built once at the edge (from the environment) and passed in.

Nothing here connects anywhere: the backends are built from these settings by `Kit` on first use.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from taskkit.errors import ConfigError

BackendFamily = Literal["local", "gcp"]
PUBSUB_MAX_ACK_DEADLINE_S = 600
PUBSUB_MIN_DELIVERY_ATTEMPTS = 5
PUBSUB_MAX_DELIVERY_ATTEMPTS = 100


def _default_owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Settings:
    """Everything taskkit needs to know about its environment.

    The push subscription's settings (ack deadline, delivery attempts, backoff) live here too,
    because taskkit checks at start that tasks fit inside them (docs/push-contract.md, "Timing checks at start").
    """

    backend: BackendFamily = "local"
    # Topic a task goes to unless it names its own; its dead-letter topic is "<topic>-dead-letter".
    default_topic: str = "tasks"
    # Push subscription (Pub/Sub in production, the local dispatcher on one machine).
    ack_deadline_s: int = 600
    max_delivery_attempts: int = 20
    min_backoff_s: float = 10.0
    max_backoff_s: float = 600.0
    # A task's time limit plus this margin must fit inside the ack deadline.
    deadline_margin_s: float = 15.0
    # How long past its time limit a task may run before its worker exits.
    grace_s: float = 10.0
    # A running attempt's lease lives this long and is renewed every third of it by a heartbeat, so a
    # dead worker's task is taken over within about this long (a task may set its own lease_ttl_s).
    lease_ttl_s: float = 30.0
    # How long finished lease and dead-letter records are kept (Firestore TTL field `expireAt`).
    record_retention_s: float = 7 * 24 * 3600.0
    # The embedded stack's schedule (what Cloud Scheduler and Firestore TTL do in production): every
    # this many seconds the supervisor asks a worker to sweep and deletes expired records (0: never).
    sweep_interval_s: float = 300.0
    # Identity of this process in leases.
    owner: str = field(default_factory=_default_owner)

    # local family
    data_dir: Path = Path("var")
    public_url: str = "http://127.0.0.1:8000"
    signing_secret: str | None = field(default=None, repr=False)
    # Shared by the embedded supervisor and its workers (random per stack start, passed to the workers
    # in their environment): the worker's push, dead-letter and sweep endpoints answer only requests
    # that carry it, so another process on the machine cannot inject or replay tasks.
    worker_secret: str | None = field(default=None, repr=False)

    # gcp family
    project: str | None = None
    bucket: str | None = None
    signer_service_account: str | None = None
    push_audience: str | None = None
    push_service_account: str | None = None
    # Push auth (OIDC) is on for gcp unless turned off explicitly with TASKKIT_PUSH_AUTH=false (Google's
    # emulator sends no token, so tests against it turn it off; an emulator variable alone does not).
    push_auth: bool | None = None
    # Firebase project whose ID tokens the API accepts (defaults to `project`).
    firebase_project_id: str | None = None
    firestore_database: str = "(default)"
    # Commit attempts the Firestore client makes per round under contention; rounds are retried with
    # jittered backoff until the deadline (a task's transactions use its remaining time instead).
    transaction_attempts: int = 10
    transaction_deadline_s: float = 60.0
    # Each publish attempt waits this long for Pub/Sub's answer; worst case about attempts x timeout.
    pubsub_publish_timeout_s: float = 10.0
    pubsub_publish_attempts: int = 4
    # Base URL of the IAM Credentials API (signBlob); tests point it at a local stand-in.
    iam_credentials_endpoint: str = "https://iamcredentials.googleapis.com"

    # Logging: json or console (json by default on Cloud Run), and the level.
    log_format: str = ""
    log_level: str = "INFO"
    # A worker of the embedded stack: its index and its share of the CPUs (set by the supervisor).
    worker_index: int | None = None
    worker_cpus: float | None = None

    # Google's own variables (not TASKKIT_*), read here so that no other module reads the environment;
    # the Google client libraries read the emulator hosts themselves too, so they follow the process.
    firestore_emulator_host: str | None = field(default_factory=lambda: _google("FIRESTORE_EMULATOR_HOST"))
    pubsub_emulator_host: str | None = field(default_factory=lambda: _google("PUBSUB_EMULATOR_HOST"))
    storage_emulator_host: str | None = field(default_factory=lambda: _google("STORAGE_EMULATOR_HOST"))
    cloud_run_service: str | None = field(default_factory=lambda: _google("K_SERVICE"))  # set on Cloud Run

    def __post_init__(self) -> None:
        if self.backend not in ("local", "gcp"):
            raise ConfigError(f"TASKKIT_BACKEND must be 'local' or 'gcp', not {self.backend!r}")
        if not 10 <= self.ack_deadline_s <= PUBSUB_MAX_ACK_DEADLINE_S:
            raise ConfigError(f"TASKKIT_ACK_DEADLINE_S={self.ack_deadline_s} is outside Pub/Sub's 10..600 s range")
        if not PUBSUB_MIN_DELIVERY_ATTEMPTS <= self.max_delivery_attempts <= PUBSUB_MAX_DELIVERY_ATTEMPTS:
            raise ConfigError(
                f"TASKKIT_MAX_DELIVERY_ATTEMPTS={self.max_delivery_attempts} is outside Pub/Sub's 5..100 range"
            )
        if self.min_backoff_s < 0 or self.max_backoff_s < self.min_backoff_s:
            raise ConfigError("TASKKIT_MIN_BACKOFF_S must be >= 0 and <= TASKKIT_MAX_BACKOFF_S")
        if self.transaction_attempts < 1 or self.pubsub_publish_attempts < 1:
            raise ConfigError("TASKKIT_TRANSACTION_ATTEMPTS and TASKKIT_PUBSUB_PUBLISH_ATTEMPTS must be >= 1")
        if self.pubsub_publish_timeout_s <= 0:
            raise ConfigError("TASKKIT_PUBSUB_PUBLISH_TIMEOUT_S must be > 0")
        if self.sweep_interval_s < 0:
            raise ConfigError("TASKKIT_SWEEP_INTERVAL_S must be >= 0 (0: the embedded stack never sweeps)")

    @property
    def push_auth_enabled(self) -> bool:
        """Whether push requests must carry a valid OIDC token (gcp family): only TASKKIT_PUSH_AUTH=false
        turns it off; PUBSUB_EMULATOR_HOST has no say in it."""
        if self.push_auth is not None:
            return self.push_auth
        return self.backend == "gcp"

    def dead_letter_topic(self, topic: str) -> str:
        """The dead-letter topic paired with `topic`."""
        return f"{topic}-dead-letter"

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (validated again)."""
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `TASKKIT_*` variables; unknown values raise ConfigError naming the variable."""
        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            var = f"TASKKIT_{f.name.upper()}"
            if var not in env or env[var] == "":
                continue
            kwargs[f.name] = _convert(var, env[var], f.type)
        for name in _GOOGLE_VARIABLES:
            kwargs[name] = _google(_GOOGLE_VARIABLES[name], env)
        if "project" not in kwargs:
            project = env.get("GOOGLE_CLOUD_PROJECT") or env.get("GCLOUD_PROJECT")
            if project:
                kwargs["project"] = project
        return cls(**kwargs)


_GOOGLE_VARIABLES = {
    "firestore_emulator_host": "FIRESTORE_EMULATOR_HOST",
    "pubsub_emulator_host": "PUBSUB_EMULATOR_HOST",
    "storage_emulator_host": "STORAGE_EMULATOR_HOST",
    "cloud_run_service": "K_SERVICE",
}


def _google(variable: str, environ: Mapping[str, str] | None = None) -> str | None:
    return (os.environ if environ is None else environ).get(variable) or None


def _convert(var: str, raw: str, annotation: Any) -> Any:
    kind = str(annotation)
    try:
        if "bool" in kind:
            lowered = raw.strip().lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(raw)
            return lowered in ("1", "true", "yes", "on")
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind == "Path":
            return Path(raw)
    except ValueError as e:
        raise ConfigError(f"{var}={raw!r} is not a valid {kind}") from e
    return raw


def require(value: str | None, variable: str) -> str:
    """Return a required setting or raise ConfigError naming the environment variable to set."""
    if not value:
        raise ConfigError(f"{variable} is not set; it is required for this backend family")
    return value
