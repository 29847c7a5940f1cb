"""The blob store on Cloud Storage (google-cloud-storage).

Create-only puts use the precondition `if_generation_match=0` (412 -> AlreadyExists), atomic on the
server. Signed URLs are v4, signed either locally by credentials that hold a key or through IAM
signBlob (see `taskkit.backends.gcp.signing`). A signed PUT binds its Content-Type and, with
`max_bytes`, the header `x-goog-content-length-range: 0,<max_bytes>`: both are signed headers, so the
uploader must send exactly those values and Cloud Storage refuses a larger body.
"""

from __future__ import annotations

import contextlib
import datetime
from typing import Any

from google.api_core import exceptions as gexc

from taskkit.backends.base import BlobStore, SignMethod
from taskkit.backends.gcp.translate import google_errors
from taskkit.errors import ConfigError

GCS_ENDPOINT = "https://storage.googleapis.com"
CONTENT_LENGTH_RANGE = "x-goog-content-length-range"
# Signed into a PUT URL: the upload succeeds only if no object exists yet (create-only uploads).
IF_GENERATION_MATCH = "x-goog-if-generation-match"


def signed_put_headers(content_type: str | None, max_bytes: int | None) -> dict[str, str]:
    """The headers a client must send with a signed PUT made with these options."""
    headers: dict[str, str] = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if max_bytes is not None:
        headers[CONTENT_LENGTH_RANGE] = f"0,{max_bytes}"
    headers[IF_GENERATION_MATCH] = "0"
    return headers


class GcsBlobStore(BlobStore):
    """Objects in one Cloud Storage bucket.

    `signing_credentials`: a `google.auth.credentials.Signing` (a service-account key, or
    `IamSigningCredentials`); None means signed URLs are refused with a ConfigError.
    `endpoint`: the host signed URLs point at (Cloud Storage, or an emulator in tests).
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        signing_credentials: Any | None = None,
        endpoint: str = GCS_ENDPOINT,
    ) -> None:
        self._client = client
        self._bucket = client.bucket(bucket)
        self._signing = signing_credentials
        self._endpoint = endpoint.rstrip("/")

    def _put(self, key: str, data: bytes, content_type: str, if_absent: bool) -> None:
        with google_errors(f"put gs://{self._bucket.name}/{key}"):
            self._bucket.blob(key).upload_from_string(
                data, content_type=content_type, if_generation_match=0 if if_absent else None
            )

    def _get(self, key: str) -> bytes:
        with google_errors(f"get gs://{self._bucket.name}/{key}"):
            return bytes(self._bucket.blob(key).download_as_bytes())

    def _exists(self, key: str) -> bool:
        with google_errors(f"exists gs://{self._bucket.name}/{key}"):
            return bool(self._bucket.blob(key).exists())

    def _delete(self, key: str) -> None:
        with google_errors(f"delete gs://{self._bucket.name}/{key}"), contextlib.suppress(gexc.NotFound):
            self._bucket.blob(key).delete()

    def _list(self, prefix: str) -> list[str]:
        with google_errors(f"list gs://{self._bucket.name}/{prefix}"):
            return [blob.name for blob in self._client.list_blobs(self._bucket.name, prefix=prefix or None)]

    def _signed_url(
        self, key: str, method: SignMethod, expires_s: int, content_type: str | None, max_bytes: int | None
    ) -> str:
        if self._signing is None:
            raise ConfigError(
                "cannot sign URLs: the credentials hold no private key and TASKKIT_SIGNER_SERVICE_ACCOUNT "
                "is not set (set it to sign through IAM signBlob)"
            )
        headers = signed_put_headers(None, max_bytes) if method == "PUT" else {}
        with google_errors(f"sign {method} gs://{self._bucket.name}/{key}"):
            return str(
                self._bucket.blob(key).generate_signed_url(
                    version="v4",
                    expiration=datetime.timedelta(seconds=expires_s),
                    method=method,
                    content_type=content_type if method == "PUT" else None,
                    headers=headers or None,
                    credentials=self._signing,
                    api_access_endpoint=self._endpoint,
                )
            )
