"""Who is calling: local bearer tokens (embedded stack) or Firebase ID tokens (gcp family).

Local tokens are `uid.expiry.hmac` signed with the embedded stack's secret; they exist only when the
local backend family runs, and the gcp family accepts only Firebase ID tokens. `strict=True` (job
creation, uploads) also asks Firebase whether the token was revoked.

Event-stream tickets (`EventTickets`) are the one credential accepted in a URL: EventSource cannot
send a header. A ticket names one user and one purpose and lives about a minute.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from taskkit import Kit
from taskkit.backends.local.keys import signing_key
from taskkit.errors import TaskkitError

_UID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")


class Unauthenticated(TaskkitError):
    """Raised when a request carries no valid credentials."""


@dataclass(frozen=True)
class Caller:
    """An authenticated user: the uid, whether the email is verified, the sign-in provider, and whether
    the token carries the custom claim `admin: true` (Firebase custom claims; never on local tokens)."""

    uid: str
    email_verified: bool = False
    provider: str | None = None
    admin: bool = False


class Verifier(Protocol):
    def __call__(self, token: str | None, *, strict: bool = False) -> Caller: ...


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

    def __call__(self, token: str | None, *, strict: bool = False) -> Caller:
        """The local user `token` proves (local users are trusted: the embedded stack is one person's)."""
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
        return Caller(uid, email_verified=True, provider="local")


class EventTickets:
    """Short-lived, single-purpose tickets for the event stream: `uid.expiry.nonce.hmac`.

    Signed with `secret` under the purpose "events", so a ticket is not a bearer token (the token
    check refuses it) and a bearer token is not a ticket. On the local family the secret is the
    stack's signing key; elsewhere it is SINGER_TICKET_SECRET, or a random one per process.
    """

    PURPOSE = "events"

    def __init__(self, secret: bytes, ttl_s: float = 60.0) -> None:
        self._secret = secret
        self.ttl_s = ttl_s

    def _mac(self, uid: str, expires_at: int, nonce: str) -> str:
        message = f"ticket:{self.PURPOSE}:{uid}:{expires_at}:{nonce}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def issue(self, uid: str) -> tuple[str, int]:
        """A ticket for `uid`'s event stream and its expiry (epoch seconds)."""
        expires_at = int(time.time() + self.ttl_s)
        nonce = secrets.token_hex(8)
        return f"{uid}.{expires_at}.{nonce}.{self._mac(uid, expires_at, nonce)}", expires_at

    def verify(self, ticket: str | None) -> Caller:
        """The user a ticket was issued to; Unauthenticated if it is missing, forged or expired."""
        if not ticket:
            raise Unauthenticated("missing ticket: POST /v1/events/ticket, then open /v1/events?ticket=<ticket>")
        parts = ticket.split(".")
        if len(parts) != 4 or not _UID.match(parts[0]) or not parts[1].isdigit():
            raise Unauthenticated("malformed ticket")
        uid, expiry, nonce, mac = parts
        if not hmac.compare_digest(mac, self._mac(uid, int(expiry), nonce)):
            raise Unauthenticated("invalid ticket")
        if int(expiry) < time.time():
            raise Unauthenticated("ticket expired: ask for a new one")
        return Caller(uid)


def build_verifier(kit: Kit) -> tuple[Verifier, LocalTokens | None]:
    """The token check for this backend family (and the local issuer when local)."""
    settings = kit.settings
    if settings.backend == "local":
        tokens = LocalTokens(signing_key(settings.data_dir, settings.signing_secret))
        return tokens, tokens
    from taskkit.backends.gcp.tokens import FirebaseTokenVerifier, InvalidIdToken

    project = getattr(settings, "firebase_project_id", None) or settings.project or ""
    firebase = FirebaseTokenVerifier(project)
    revocation: list[FirebaseTokenVerifier] = []  # built on first strict use (it needs credentials)
    lock = threading.Lock()

    def revocation_verifier() -> FirebaseTokenVerifier:
        with lock:
            if not revocation:
                name = f"taskkit-auth-{project}-revoked"
                revocation.append(FirebaseTokenVerifier(project, check_revoked=True, app_name=name))
            return revocation[0]

    def verify(token: str | None, *, strict: bool = False) -> Caller:
        try:
            user = revocation_verifier().verify(token) if strict else firebase.verify(token)
        except InvalidIdToken as e:
            raise Unauthenticated(str(e)) from e
        return caller_from_claims(user.uid, user.claims)

    return verify, None


def caller_from_claims(uid: str, claims: dict[str, object]) -> Caller:
    """A Caller from a Firebase ID token's claims (`email_verified`, `firebase.sign_in_provider`, and the
    custom claim `admin`)."""
    firebase = claims.get("firebase")
    provider = firebase.get("sign_in_provider") if isinstance(firebase, dict) else None
    verified = claims.get("email_verified") is True
    admin = claims.get("admin") is True
    return Caller(uid, email_verified=verified, provider=str(provider) if provider else None, admin=admin)
