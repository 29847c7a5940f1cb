"""Who is calling: local bearer tokens (embedded stack) or Firebase ID tokens (gcp family).

Local tokens are `uid.expiry.hmac` signed with the embedded stack's secret; they exist only when the
local backend family runs, and the gcp family accepts only Firebase ID tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Protocol

from taskkit import Kit
from taskkit.backends import local_signing_secret
from taskkit.errors import TaskkitError

_UID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")


class Unauthenticated(TaskkitError):
    """Raised when a request carries no valid credentials."""


@dataclass(frozen=True)
class Caller:
    """An authenticated user."""

    uid: str


class Verifier(Protocol):
    def __call__(self, token: str | None) -> Caller: ...


class LocalTokens:
    """HMAC tokens for the embedded stack's local sign-in."""

    def __init__(self, secret: bytes, ttl_s: float = 7 * 24 * 3600) -> None:
        self._secret = secret
        self.ttl_s = ttl_s

    def _mac(self, uid: str, expires_at: int) -> str:
        return hmac.new(self._secret, f"local:{uid}:{expires_at}".encode(), hashlib.sha256).hexdigest()

    def issue(self, uid: str) -> tuple[str, int]:
        expires_at = int(time.time() + self.ttl_s)
        return f"{uid}.{expires_at}.{self._mac(uid, expires_at)}", expires_at

    def __call__(self, token: str | None) -> Caller:
        if not token:
            raise Unauthenticated("missing bearer token: sign in and send 'Authorization: Bearer <token>'")
        uid, _, rest = token.partition(".")
        expiry, _, mac = rest.partition(".")
        if not _UID.match(uid) or not expiry.isdigit():
            raise Unauthenticated("malformed token")
        if not hmac.compare_digest(mac, self._mac(uid, int(expiry))):
            raise Unauthenticated("invalid token")
        if int(expiry) < time.time():
            raise Unauthenticated("token expired: sign in again")
        return Caller(uid)


def build_verifier(kit: Kit) -> tuple[Verifier, LocalTokens | None]:
    """The token check for this backend family (and the local issuer when local)."""
    settings = kit.settings
    if settings.backend == "local":
        tokens = LocalTokens(local_signing_secret(settings))
        return tokens, tokens
    from taskkit.backends.gcp.tokens import FirebaseTokenVerifier, InvalidIdToken

    project = getattr(settings, "firebase_project_id", None) or settings.project or ""
    firebase = FirebaseTokenVerifier(project)

    def verify(token: str | None) -> Caller:
        try:
            return Caller(firebase.verify(token).uid)
        except InvalidIdToken as e:
            raise Unauthenticated(str(e)) from e

    return verify, None
