"""Token checks the honest way (see docs/testing.md).

A local RSA key and a self-signed certificate are served from a loopback HTTP server as
`{"<kid>": "<cert PEM>"}`, exactly the format of Google's certificate endpoints; tokens are signed RS256
with PyJWT. The verifiers run unmodified, pointed at that server: firebase-admin through its ID-token
certificate URL, the push verifier through its `certs_url`.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import firebase_admin
import firebase_admin._token_gen
import jwt
import pytest
from firebase_admin import credentials

from taskkit.backends.gcp.tokens import (
    FirebaseTokenVerifier,
    InvalidIdToken,
    OidcPushVerifier,
)
from taskkit.bearer import bearer_token
from taskkit.errors import ConfigError, PushAuthError, TransientBackendError
from tests.emulators import free_port
from tests.taskkit.backends.standins import RsaTestKey, serve

PROJECT = "demo-singer"
KID = "key-1"
AUDIENCE = "https://worker.example.run.app/_taskkit/push"
PUSH_SA = "pubsub-push@demo-singer.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def key() -> RsaTestKey:
    return RsaTestKey.generate()


@pytest.fixture(scope="module")
def other_key() -> RsaTestKey:
    return RsaTestKey.generate()


@pytest.fixture(scope="module")
def certs(key: RsaTestKey) -> Iterator[tuple[str, list[str]]]:
    """The certificate endpoint; yields (url, paths requested so far)."""
    requests: list[str] = []

    def handle(method: str, path: str, _body: bytes) -> tuple[int, dict[str, Any]]:
        requests.append(f"{method} {path}")
        return 200, {KID: key.cert_pem}

    with serve(handle) as url:
        yield url + "/certs", requests


def sign(claims: dict[str, Any], key: RsaTestKey, kid: str = KID) -> str:
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": kid})


def unsigned(claims: dict[str, Any], kid: str = KID) -> str:
    """A token with alg=none and no signature."""

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{part(claims)}."


# ---------------------------------------------------------------- Firebase ID tokens


def firebase_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": f"https://securetoken.google.com/{PROJECT}",
        "aud": PROJECT,
        "sub": "alice-uid",
        "auth_time": now - 60,
        "iat": now - 60,
        "exp": now + 3600,
        "email": "alice@example.com",
        "firebase": {"sign_in_provider": "password"},
    }
    claims.update(changes)
    return claims


@contextmanager
def firebase_verifier(
    certs_url: str, key: RsaTestKey, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FirebaseTokenVerifier]:
    """A verifier whose firebase-admin app (fake service-account credential) fetches certificates at certs_url."""
    # firebase-admin reads this URL when an app first verifies a token: only where it fetches from changes.
    monkeypatch.setattr(firebase_admin._token_gen, "ID_TOKEN_CERT_URI", certs_url)
    fake_service_account = credentials.Certificate(
        {
            "type": "service_account",
            "project_id": PROJECT,
            "client_email": f"firebase-adminsdk@{PROJECT}.iam.gserviceaccount.com",
            "private_key": key.private_pem,
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )
    name = f"test-{uuid.uuid4().hex[:8]}"
    try:
        yield FirebaseTokenVerifier(PROJECT, credential=fake_service_account, app_name=name)
    finally:
        firebase_admin.delete_app(firebase_admin.get_app(name))


@pytest.fixture
def firebase(
    key: RsaTestKey, certs: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FirebaseTokenVerifier]:
    with firebase_verifier(certs[0], key, monkeypatch) as verifier:
        yield verifier


def test_firebase_valid_token_is_accepted(firebase: FirebaseTokenVerifier, key: RsaTestKey) -> None:
    user = firebase.verify(sign(firebase_claims(), key))
    assert user.uid == "alice-uid"
    assert user.claims["email"] == "alice@example.com"


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("wrong key", lambda k, o: sign(firebase_claims(), o)),
        ("unknown kid", lambda k, o: sign(firebase_claims(), k, kid="key-2")),
        ("expired", lambda k, o: sign(firebase_claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600), k)),
        ("wrong audience", lambda k, o: sign(firebase_claims(aud="another-project"), k)),
        ("wrong issuer", lambda k, o: sign(firebase_claims(iss="https://securetoken.google.com/other"), k)),
        ("alg none", lambda k, o: unsigned(firebase_claims())),
        ("empty subject", lambda k, o: sign(firebase_claims(sub=""), k)),
        ("not a JWT", lambda k, o: "not-a-token"),
        ("empty", lambda k, o: ""),
    ],
)
def test_firebase_bad_tokens_are_rejected(
    firebase: FirebaseTokenVerifier, key: RsaTestKey, other_key: RsaTestKey, case: str, make: Any
) -> None:
    with pytest.raises(InvalidIdToken):
        firebase.verify(make(key, other_key))


def test_firebase_unreachable_certificates_are_transient(key: RsaTestKey, monkeypatch: pytest.MonkeyPatch) -> None:
    certs_url = f"http://127.0.0.1:{free_port()}/certs"
    with firebase_verifier(certs_url, key, monkeypatch) as verifier, pytest.raises(TransientBackendError):
        verifier.verify(sign(firebase_claims(), key))


def test_firebase_verification_loads_no_credentials(
    key: RsaTestKey, certs: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Application Default Credentials would fail here: the verifier must not need them.
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "absent.json"))
    monkeypatch.setattr(firebase_admin._token_gen, "ID_TOKEN_CERT_URI", certs[0])
    name = f"test-{uuid.uuid4().hex[:8]}"
    try:
        verifier = FirebaseTokenVerifier(PROJECT, app_name=name)
        assert verifier.verify(sign(firebase_claims(), key)).uid == "alice-uid"
        with pytest.raises(InvalidIdToken):
            verifier.verify(sign(firebase_claims(), RsaTestKey.generate()))
    finally:
        firebase_admin.delete_app(firebase_admin.get_app(name))


def test_firebase_needs_a_project() -> None:
    with pytest.raises(ConfigError, match="TASKKIT_FIREBASE_PROJECT_ID"):
        FirebaseTokenVerifier("")


# ---------------------------------------------------------------- Pub/Sub push OIDC tokens


def push_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "azp": "1234567890",
        "sub": "1234567890",
        "email": PUSH_SA,
        "email_verified": True,
        "iat": now - 10,
        "exp": now + 3600,
    }
    claims.update(changes)
    return claims


@pytest.fixture
def push(certs: tuple[str, list[str]]) -> OidcPushVerifier:
    return OidcPushVerifier(AUDIENCE, PUSH_SA, certs_url=certs[0])


def test_push_valid_token_is_accepted(push: OidcPushVerifier, key: RsaTestKey) -> None:
    push.verify(f"Bearer {sign(push_claims(), key)}")
    push.verify(f"bearer {sign(push_claims(iss='accounts.google.com'), key)}")


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("wrong audience", lambda k, o: sign(push_claims(aud="https://other.example/push"), k)),
        ("wrong service account", lambda k, o: sign(push_claims(email="intruder@x.iam.gserviceaccount.com"), k)),
        ("unverified email", lambda k, o: sign(push_claims(email_verified=False), k)),
        ("no email", lambda k, o: sign({c: v for c, v in push_claims().items() if c != "email"}, k)),
        ("expired", lambda k, o: sign(push_claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600), k)),
        ("wrong issuer", lambda k, o: sign(push_claims(iss="https://evil.example"), k)),
        ("wrong key", lambda k, o: sign(push_claims(), o)),
        ("unknown kid", lambda k, o: sign(push_claims(), k, kid="key-2")),
        ("alg none", lambda k, o: unsigned(push_claims())),
        ("not a JWT", lambda k, o: "garbage"),
    ],
)
def test_push_bad_tokens_are_rejected(
    push: OidcPushVerifier, key: RsaTestKey, other_key: RsaTestKey, case: str, make: Any
) -> None:
    with pytest.raises(PushAuthError):
        push.verify(f"Bearer {make(key, other_key)}")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwdw=="])
def test_push_without_a_bearer_token_is_rejected(push: OidcPushVerifier, header: str | None) -> None:
    with pytest.raises(PushAuthError, match="Bearer"):
        push.verify(header)


def test_push_certificates_are_cached(certs: tuple[str, list[str]], key: RsaTestKey) -> None:
    verifier = OidcPushVerifier(AUDIENCE, PUSH_SA, certs_url=certs[0])
    before = len(certs[1])
    for _ in range(3):
        verifier.verify(f"Bearer {sign(push_claims(), key)}")
    assert len(certs[1]) - before == 1


def test_push_unreachable_certificates_refuse(key: RsaTestKey) -> None:
    verifier = OidcPushVerifier(AUDIENCE, PUSH_SA, certs_url=f"http://127.0.0.1:{free_port()}/certs")
    with pytest.raises(PushAuthError, match="certificates"):
        verifier.verify(f"Bearer {sign(push_claims(), key)}")


def test_push_verifier_needs_its_settings() -> None:
    with pytest.raises(ConfigError, match="TASKKIT_PUSH_AUDIENCE"):
        OidcPushVerifier("", PUSH_SA)
    with pytest.raises(ConfigError, match="TASKKIT_PUSH_SERVICE_ACCOUNT"):
        OidcPushVerifier(AUDIENCE, "")


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("BEARER  abc ") == "abc"
    assert bearer_token("Token abc") is None
    assert bearer_token(None) is None
