"""Token checks of the gcp family: Firebase ID tokens (the API) and Pub/Sub push OIDC tokens (the worker).

Both verify an RS256 JWT against Google's published certificates: signature, expiry, audience and
issuer, then the claims that matter here (Firebase: the project; push: the service account's email,
verified). Certificate URLs are injectable so tests can serve their own certificates.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import google.auth.credentials
import google.auth.exceptions
import google.auth.transport
import google.auth.transport.requests
import google.oauth2.id_token

from taskkit.bearer import bearer_token
from taskkit.errors import ConfigError, PushAuthError, TaskkitError, TransientBackendError

GOOGLE_OAUTH2_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})


class InvalidIdToken(TaskkitError):
    """Raised when a Firebase ID token is missing, malformed, forged, expired, revoked or for another project."""


@dataclass(frozen=True)
class FirebaseUser:
    """A verified Firebase user: the uid and every claim of the ID token."""

    uid: str
    claims: dict[str, Any] = field(repr=False)


class FirebaseTokenVerifier:
    """Verifies Firebase ID tokens with firebase-admin (`auth.verify_id_token`).

    `credential`: a firebase-admin credential. Verifying a token needs only the project id and Google's
    public certificates, so by default no credential is loaded at all; `check_revoked=True` calls the
    Auth API and then defaults to Application Default Credentials (Cloud Run's service account).
    """

    def __init__(
        self,
        project_id: str,
        *,
        credential: Any = None,
        check_revoked: bool = False,
        clock_skew_s: int = 0,
        app_name: str | None = None,
    ) -> None:
        import firebase_admin

        if not project_id:
            raise ConfigError("TASKKIT_FIREBASE_PROJECT_ID (or TASKKIT_PROJECT) is not set")
        if not 0 <= clock_skew_s <= 60:
            raise ConfigError("clock_skew_s must be between 0 and 60")
        if credential is None and not check_revoked:
            credential = _anonymous_credential()
        name = app_name or f"taskkit-auth-{project_id}"
        try:
            self._app = firebase_admin.get_app(name)
        except ValueError:  # not initialised yet in this process
            self._app = firebase_admin.initialize_app(credential, {"projectId": project_id}, name=name)
        self._check_revoked = check_revoked
        self._clock_skew_s = clock_skew_s

    def verify(self, id_token: str | None) -> FirebaseUser:
        """The user an ID token proves; InvalidIdToken if it proves nothing."""
        from firebase_admin import auth

        if not id_token:
            raise InvalidIdToken("no ID token: send 'Authorization: Bearer <Firebase ID token>'")
        try:
            claims = auth.verify_id_token(
                id_token, app=self._app, check_revoked=self._check_revoked, clock_skew_seconds=self._clock_skew_s
            )
        except auth.CertificateFetchError as e:
            raise TransientBackendError(f"could not fetch Firebase's token certificates: {e}") from e
        except (auth.InvalidIdTokenError, auth.UserDisabledError, ValueError) as e:
            # ExpiredIdTokenError and RevokedIdTokenError are InvalidIdTokenErrors.
            raise InvalidIdToken(f"invalid Firebase ID token: {e}") from e
        return FirebaseUser(uid=str(claims["uid"]), claims=dict(claims))


def _anonymous_credential() -> Any:
    # Defined here because firebase-admin is imported only by the Firebase verifier (the worker needs none).
    from firebase_admin import credentials

    class AnonymousCredential(credentials.Base):  # type: ignore[misc]
        """A firebase-admin credential that authorises nothing: verifying ID tokens needs none."""

        def get_credential(self) -> Any:
            return google.auth.credentials.AnonymousCredentials()  # type: ignore[no-untyped-call]

    return AnonymousCredential()


class CachingRequest(google.auth.transport.Request):
    """A google-auth transport that keeps successful GET answers for `ttl_s` (certificate fetches)."""

    def __init__(self, ttl_s: float = 300.0, timeout_s: float = 10.0) -> None:
        self._delegate = google.auth.transport.requests.Request()
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Answer from the cache when fresh, else fetch (and keep a 200 answer to a GET)."""
        now = time.monotonic()
        if method == "GET":
            with self._lock:
                hit = self._cache.get(url)
            if hit is not None and now - hit[0] < self._ttl_s:
                return hit[1]
        response = self._delegate(url, method, body, headers, timeout or self._timeout_s, **kwargs)
        if method == "GET" and response.status == 200:
            with self._lock:
                self._cache[url] = (now, response)
        return response


class OidcPushVerifier:
    """Verifies the OIDC token Pub/Sub puts on each push request (docs/push-contract.md, "Endpoints").

    Accepts only an RS256 token signed by Google, issued by accounts.google.com, for `audience`, whose
    `email` is `service_account_email` with `email_verified` true. This is what
    `google.oauth2.id_token.verify_oauth2_token` checks, done through `verify_token` so that the
    certificate URL can be pointed elsewhere in tests.
    """

    def __init__(
        self,
        audience: str,
        service_account_email: str,
        *,
        certs_url: str = GOOGLE_OAUTH2_CERTS_URL,
        clock_skew_s: int = 10,
        request: google.auth.transport.Request | None = None,
    ) -> None:
        if not audience:
            raise ConfigError("TASKKIT_PUSH_AUDIENCE is not set (the push endpoint URL, or the configured audience)")
        if not service_account_email:
            raise ConfigError("TASKKIT_PUSH_SERVICE_ACCOUNT is not set (the push subscription's service account)")
        self._audience = audience
        self._email = service_account_email
        self._certs_url = certs_url
        self._clock_skew_s = clock_skew_s
        self._request = request if request is not None else CachingRequest()

    def verify(self, authorization_header: str | None) -> None:
        """Return if the request carries a valid push token; raise PushAuthError otherwise."""
        token = bearer_token(authorization_header)
        if token is None:
            raise PushAuthError("push request without 'Authorization: Bearer <OIDC token>'")
        try:
            claims = google.oauth2.id_token.verify_token(
                token,
                self._request,
                audience=self._audience,
                certs_url=self._certs_url,
                clock_skew_in_seconds=self._clock_skew_s,
            )
        except google.auth.exceptions.TransportError as e:
            # Still a refusal (a nack): Pub/Sub redelivers once the certificates can be fetched again.
            raise PushAuthError(f"could not fetch Google's certificates to check the push token: {e}") from e
        except (ValueError, google.auth.exceptions.GoogleAuthError) as e:
            raise PushAuthError(f"invalid push token: {e}") from e
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise PushAuthError(f"push token issued by {claims.get('iss')!r}, not Google")
        if claims.get("email") != self._email:
            raise PushAuthError(f"push token is for {claims.get('email')!r}, not {self._email!r}")
        if claims.get("email_verified") is not True:
            raise PushAuthError("push token's email is not verified")
