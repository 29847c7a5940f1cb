"""Local stand-ins for the Google HTTP endpoints the gcp family calls, and an RSA test key.

- `IamSignBlobStandIn`: the IAM Credentials `signBlob` endpoint, signing with a local RSA key exactly as
  the real one signs with the service account's Google-managed key (RSA PKCS#1 v1.5, SHA-256). It can be
  told to answer with an error status to exercise the failure paths.
- `serve_json`: a loopback HTTP server answering GET with a JSON body (certificate endpoints).
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


@dataclass
class RsaTestKey:
    """An RSA key pair with a self-signed certificate, as Google publishes for its signing keys."""

    private_key: rsa.RSAPrivateKey
    cert_pem: str

    @classmethod
    def generate(cls, common_name: str = "taskkit-test") -> RsaTestKey:
        """A fresh 2048-bit key and a one-day self-signed certificate for it."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert.public_bytes(serialization.Encoding.PEM).decode())

    @property
    def private_pem(self) -> str:
        """The private key as PKCS#8 PEM."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def sign(self, payload: bytes) -> bytes:
        """RSA PKCS#1 v1.5 SHA-256, what signBlob and RS256 use."""
        return self.private_key.sign(payload, padding.PKCS1v15(), hashes.SHA256())

    def verify(self, signature: bytes, payload: bytes) -> None:
        """Raise cryptography's InvalidSignature unless `signature` is this key's over `payload`."""
        self.private_key.public_key().verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())


Handler = Callable[[str, str, bytes], tuple[int, dict[str, Any]]]


@contextmanager
def serve(handler: Handler) -> Iterator[str]:
    """Run `handler(method, path, body) -> (status, json)` on a loopback port; yields the base URL."""

    class _Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, payload = handler(self.command, self.path, body)
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = _answer
        do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:  # silence per-request logging
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def serve_json(payload: dict[str, Any]) -> Iterator[str]:
    """A server answering every GET with `payload`; yields its URL."""
    with serve(lambda _m, _p, _b: (200, payload)) as url:
        yield url + "/certs"


_SIGN_BLOB = re.compile(r"^/v1/projects/-/serviceAccounts/([^/:]+):signBlob$")


@dataclass
class IamSignBlobStandIn:
    """The IAM Credentials signBlob endpoint, signing as `email` with `key`."""

    email: str
    key: RsaTestKey
    fail_with: int | None = None  # answer every call with this status instead of signing
    calls: list[str] = field(default_factory=list)

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """Answer one request as the real endpoint does."""
        match = _SIGN_BLOB.match(path)
        self.calls.append(path)
        if method != "POST" or match is None:
            return 404, {"error": {"message": f"no route {method} {path}"}}
        if self.fail_with is not None:
            return self.fail_with, {"error": {"code": self.fail_with, "message": "stand-in failure"}}
        if match.group(1) != self.email:
            return 403, {"error": {"code": 403, "message": "Permission 'iam.serviceAccounts.signBlob' denied"}}
        payload = base64.b64decode(json.loads(body)["payload"])
        signature = base64.b64encode(self.key.sign(payload)).decode()
        return 200, {"keyId": "stand-in-key", "signedBlob": signature}

    @contextmanager
    def running(self) -> Iterator[str]:
        """Serve the endpoint; yields the base URL to configure as the IAM Credentials endpoint."""
        with serve(self.handle) as url:
            yield url
