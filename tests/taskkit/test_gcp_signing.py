"""v4 signed URLs of the gcp blob store, verified with the signer's PUBLIC key.

The verification rebuilds Cloud Storage's v4 string-to-sign from the URL alone (following the
published algorithm, independently of the library that made the URL) and checks `X-Goog-Signature`
against it. Two signers: IAM signBlob (the Cloud Run path; a local stand-in of the endpoint signs with
a local RSA key) and a service-account key held locally. No storage server is needed: signing is local
arithmetic plus, for IAM, one HTTP call.
"""

from __future__ import annotations

import hashlib
import time
import urllib.parse
from collections.abc import Iterator, Mapping

import pytest
from cryptography.exceptions import InvalidSignature
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.oauth2 import service_account

from taskkit.backends.gcp.gcs import GcsBlobStore
from taskkit.backends.gcp.signing import IamBlobSigner, IamSigningCredentials
from taskkit.errors import BackendError, ConfigError, TransientBackendError
from tests.taskkit.backends.standins import IamSignBlobStandIn, RsaTestKey

EMAIL = "renderer@demo-project.iam.gserviceaccount.com"
BUCKET = "demo-bucket"


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="-_.~")


def verify_v4_url(
    url: str, method: str, headers: Mapping[str, str], key: RsaTestKey, *, now: float | None = None
) -> dict[str, str]:
    """Check a v4 signed URL as Cloud Storage does; returns its query parameters.

    `headers` are the headers the client will send (Host is taken from the URL). Raises InvalidSignature
    if the signature does not cover exactly this method, object, query and these signed headers.
    """
    parts = urllib.parse.urlsplit(url)
    params = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    signature = bytes.fromhex(params.pop("X-Goog-Signature"))
    assert params["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    sent = {name.lower(): value.strip() for name, value in headers.items()}
    sent["host"] = parts.netloc
    signed_names = params["X-Goog-SignedHeaders"].split(";")
    canonical_headers = "".join(f"{name}:{sent[name]}\n" for name in signed_names)
    canonical_query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(params.items()))
    canonical_request = "\n".join(
        [method, parts.path, canonical_query, canonical_headers, params["X-Goog-SignedHeaders"], "UNSIGNED-PAYLOAD"]
    )
    scope = params["X-Goog-Credential"].split("/", 1)[1]
    string_to_sign = "\n".join(
        ["GOOG4-RSA-SHA256", params["X-Goog-Date"], scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key.verify(signature, string_to_sign.encode())
    issued = time.mktime(time.strptime(params["X-Goog-Date"], "%Y%m%dT%H%M%SZ")) - time.timezone
    assert abs(issued - (now or time.time())) < 120, "X-Goog-Date is the signing time (UTC)"
    return params


@pytest.fixture(scope="module")
def key() -> RsaTestKey:
    return RsaTestKey.generate()


@pytest.fixture
def stand_in(key: RsaTestKey) -> Iterator[tuple[IamSignBlobStandIn, str]]:
    endpoint = IamSignBlobStandIn(EMAIL, key)
    with endpoint.running() as url:
        yield endpoint, url


def _client() -> storage.Client:
    return storage.Client(project="demo-project", credentials=AnonymousCredentials())


def _iam_store(url: str, email: str = EMAIL, attempts: int = 3) -> GcsBlobStore:
    signer = IamBlobSigner(email, AnonymousCredentials(), endpoint=url, attempts=attempts)
    return GcsBlobStore(_client(), BUCKET, signing_credentials=IamSigningCredentials(signer, email))


def test_iam_signed_put_binds_type_and_size(stand_in: tuple[IamSignBlobStandIn, str], key: RsaTestKey) -> None:
    endpoint, url = stand_in
    store = _iam_store(url)
    signed = store.signed_url(
        "uploads/u1/a+b=c@d.musicxml", method="PUT", expires_s=600, content_type="application/xml", max_bytes=5_000_000
    )
    assert signed.startswith(f"https://storage.googleapis.com/{BUCKET}/uploads/u1/a%2Bb%3Dc%40d.musicxml?")
    headers = {
        "Content-Type": "application/xml",
        "x-goog-content-length-range": "0,5000000",
        "x-goog-if-generation-match": "0",  # create-only
    }
    params = verify_v4_url(signed, "PUT", headers, key)
    assert params["X-Goog-SignedHeaders"] == "content-type;host;x-goog-content-length-range;x-goog-if-generation-match"
    assert params["X-Goog-Expires"] == "600"
    assert params["X-Goog-Credential"].startswith(f"{EMAIL}/")
    assert params["X-Goog-Credential"].endswith("/auto/storage/goog4_request")
    assert endpoint.calls == [f"/v1/projects/-/serviceAccounts/{EMAIL}:signBlob"]
    # The binding is real: any other type or size range breaks the signature.
    with pytest.raises(InvalidSignature):
        verify_v4_url(signed, "PUT", {**headers, "Content-Type": "text/html"}, key)
    with pytest.raises(InvalidSignature):
        verify_v4_url(signed, "PUT", {**headers, "x-goog-content-length-range": "0,999999999"}, key)
    with pytest.raises(InvalidSignature):
        verify_v4_url(signed, "PUT", {**headers, "x-goog-if-generation-match": "1"}, key)  # an overwrite
    with pytest.raises(InvalidSignature):
        verify_v4_url(signed, "GET", headers, key)


def test_iam_signed_get(stand_in: tuple[IamSignBlobStandIn, str], key: RsaTestKey) -> None:
    _, url = stand_in
    signed = _iam_store(url).signed_url("jobs/j1/output.wav", method="GET", expires_s=120)
    params = verify_v4_url(signed, "GET", {}, key)
    assert params["X-Goog-SignedHeaders"] == "host"
    assert params["X-Goog-Expires"] == "120"
    with pytest.raises(InvalidSignature):
        verify_v4_url(signed.replace("output.wav", "other.wav"), "GET", {}, key)
    with pytest.raises(InvalidSignature):
        verify_v4_url(signed, "GET", {}, RsaTestKey.generate())


def test_key_file_credentials_sign_locally(key: RsaTestKey) -> None:
    credentials = service_account.Credentials.from_service_account_info(
        {
            "type": "service_account",
            "client_email": EMAIL,
            "private_key": key.private_pem,
            "private_key_id": "local-key",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )
    store = GcsBlobStore(_client(), BUCKET, signing_credentials=credentials)
    signed = store.signed_url("jobs/j1/output.wav", expires_s=60)
    verify_v4_url(signed, "GET", {}, key)


def test_refused_signblob_names_the_role(stand_in: tuple[IamSignBlobStandIn, str]) -> None:
    _, url = stand_in
    store = _iam_store(url, email="someone-else@demo-project.iam.gserviceaccount.com")
    with pytest.raises(BackendError, match=r"roles/iam\.serviceAccountTokenCreator"):
        store.signed_url("jobs/j1/output.wav")


def test_failing_signblob_is_retried_then_transient(stand_in: tuple[IamSignBlobStandIn, str]) -> None:
    endpoint, url = stand_in
    endpoint.fail_with = 503
    with pytest.raises(TransientBackendError, match="503"):
        _iam_store(url, attempts=3).signed_url("jobs/j1/output.wav")
    assert len(endpoint.calls) == 3


def test_unreachable_signblob_is_transient() -> None:
    with pytest.raises(TransientBackendError):
        _iam_store("http://127.0.0.1:9", attempts=2).signed_url("jobs/j1/output.wav")


def test_no_signer_is_a_config_error() -> None:
    store = GcsBlobStore(_client(), BUCKET, signing_credentials=None)
    with pytest.raises(ConfigError, match="TASKKIT_SIGNER_SERVICE_ACCOUNT"):
        store.signed_url("jobs/j1/output.wav")
