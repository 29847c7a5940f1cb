"""Signing for v4 signed URLs without a key file: the IAM Credentials `signBlob` API.

On Cloud Run the runtime identity has no private key, so the string-to-sign of a v4 signed URL is
signed by Google's IAM Credentials service on behalf of a service account:

    POST {endpoint}/v1/projects/-/serviceAccounts/{email}:signBlob  {"payload": base64(bytes)}
    -> {"keyId": "...", "signedBlob": base64(RSA-SHA256 signature)}

Roles this needs (grant them in terraform):

- The identity that calls signBlob (the Cloud Run service account) needs
  `roles/iam.serviceAccountTokenCreator` on the signing service account. When, as usual, the service
  signs as itself, that is the role on ITSELF (a resource-level binding on its own service account).
- The signing service account needs read access to the objects it signs GET URLs for
  (`roles/storage.objectViewer` on the bucket) and create access for PUT URLs
  (`roles/storage.objectCreator`): a signed URL carries the signer's permissions, nothing more.

The endpoint base is configurable (`TASKKIT_IAM_CREDENTIALS_ENDPOINT`) so tests can point it at a
local stand-in that signs with a local RSA key.
"""

from __future__ import annotations

import base64
import urllib.parse
from typing import Any

import google.auth.credentials
import google.auth.crypt
import requests
from google.auth.transport.requests import AuthorizedSession
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from taskkit.errors import BackendError, TransientBackendError

IAM_CREDENTIALS_ENDPOINT = "https://iamcredentials.googleapis.com"


def _retryable(error: BaseException) -> bool:
    return isinstance(error, TransientBackendError | requests.ConnectionError | requests.Timeout)


class IamBlobSigner(google.auth.crypt.Signer):
    """Signs bytes as `service_account_email` through IAM Credentials signBlob.

    `credentials` authorise the call (the runtime's own, e.g. Cloud Run's metadata-server token).
    """

    def __init__(
        self,
        service_account_email: str,
        credentials: Any,
        *,
        endpoint: str = IAM_CREDENTIALS_ENDPOINT,
        timeout_s: float = 10.0,
        attempts: int = 3,
    ) -> None:
        self._email = service_account_email
        self._session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        name = urllib.parse.quote(service_account_email, safe="@.")
        self._url = f"{endpoint.rstrip('/')}/v1/projects/-/serviceAccounts/{name}:signBlob"
        self._timeout_s = timeout_s
        self._attempts = max(1, attempts)

    @property
    def key_id(self) -> str | None:
        """Unknown until a signature names it; v4 signed URLs do not need it."""
        return None

    def sign(self, message: bytes | str) -> bytes:
        """The RSA-SHA256 signature of `message` by the service account's Google-managed key."""
        payload = message.encode() if isinstance(message, str) else message
        body = {"payload": base64.b64encode(payload).decode()}
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(initial=0.2, max=2.0),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._call(body)
        except requests.RequestException as e:
            raise TransientBackendError(f"IAM signBlob for {self._email} failed: {e}") from e
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _call(self, body: dict[str, str]) -> bytes:
        response = self._session.post(self._url, json=body, timeout=self._timeout_s)
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientBackendError(f"IAM signBlob answered {response.status_code}: {response.text[:300]}")
        if response.status_code == 403:
            raise BackendError(
                f"IAM signBlob refused to sign as {self._email} (403): the runtime service account needs "
                f"roles/iam.serviceAccountTokenCreator on {self._email}"
            )
        if response.status_code != 200:
            raise BackendError(f"IAM signBlob answered {response.status_code}: {response.text[:300]}")
        try:
            return base64.b64decode(response.json()["signedBlob"])
        except (ValueError, KeyError, TypeError) as e:
            raise BackendError(f"IAM signBlob answered an unreadable body: {response.text[:300]}") from e


class IamSigningCredentials(google.auth.credentials.Signing):
    """Signing credentials for google-cloud-storage's `generate_signed_url` backed by signBlob."""

    def __init__(self, signer: IamBlobSigner, service_account_email: str) -> None:
        self._signer = signer
        self._email = service_account_email

    def sign_bytes(self, message: bytes) -> bytes:
        """Sign `message` through IAM."""
        return self._signer.sign(message)

    @property
    def signer_email(self) -> str:
        """The service account the signatures are made as."""
        return self._email

    @property
    def signer(self) -> IamBlobSigner:
        """The underlying signer."""
        return self._signer
