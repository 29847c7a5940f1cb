"""The embedded blob store: a folder, with HMAC-signed URLs that `blob_routes` serves.

Objects live under `<root>/objects/<key>`, their content type under `<root>/meta/<key>`. Writes go to
a scratch file first, then `os.replace` (overwrite) or `os.link` (create-only: it fails when the
name exists, which makes `if_absent` atomic across processes).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from taskkit.backends.base import BlobStore, SignMethod
from taskkit.errors import AlreadyExists, NotFound


@dataclass(frozen=True)
class SignedGrant:
    """What a verified signed URL allows."""

    key: str
    method: str
    expires_at: int
    content_type: str | None
    max_bytes: int | None


class LocalBlobStore(BlobStore):
    """Blob store on the local filesystem."""

    def __init__(self, root: Path, secret: bytes, base_url: str) -> None:
        self.root = Path(root)
        self._objects = self.root / "objects"
        self._meta = self.root / "meta"
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self._objects.mkdir(parents=True, exist_ok=True)
        self._meta.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self._objects / key

    def _put(self, key: str, data: bytes, content_type: str, if_absent: bool) -> None:
        target = self._path(key)
        scratch = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
        _write_new(scratch, data)
        try:
            if if_absent:
                try:
                    os.link(scratch, target)
                except FileExistsError as e:
                    raise AlreadyExists(f"blob {key} already exists") from e
            else:
                os.replace(scratch, target)
        finally:
            scratch.unlink(missing_ok=True)
        _write_new(self._meta / key, content_type.encode())

    def _get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise NotFound(f"no blob at {key}") from e

    def content_type(self, key: str) -> str:
        """The content type the object was stored with."""
        try:
            return (self._meta / key).read_text() or "application/octet-stream"
        except (FileNotFoundError, NotADirectoryError):
            return "application/octet-stream"

    def _exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
        (self._meta / key).unlink(missing_ok=True)

    def _list(self, prefix: str) -> list[str]:
        keys = []
        for path in self._objects.rglob("*"):
            if path.is_file() and not path.name.endswith(".part"):
                key = path.relative_to(self._objects).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return keys

    def delete_older_than(self, prefix: str, age_s: float, now: float) -> int:
        """Delete objects under `prefix` created more than `age_s` before `now` (a GCS age rule).

        The age is the file's modification time: objects are written once (a scratch file, then a
        rename or link), so it is their creation time, as a GCS object's age counts from creation.
        """
        deleted = 0
        for key in self._list(prefix):
            try:
                created = self._path(key).stat().st_mtime
            except FileNotFoundError:
                continue
            if now - created > age_s:
                self._delete(key)
                deleted += 1
        if deleted:
            _remove_empty_dirs(self._objects)
            _remove_empty_dirs(self._meta)
        return deleted

    def _signed_url(
        self, key: str, method: SignMethod, expires_s: int, content_type: str | None, max_bytes: int | None
    ) -> str:
        expires_at = int(time.time()) + expires_s
        params: dict[str, str] = {"X-Method": method, "X-Expires": str(expires_at)}
        if content_type:
            params["X-Content-Type"] = content_type
        if max_bytes is not None:
            params["X-Max-Bytes"] = str(max_bytes)
        params["X-Signature"] = self._sign(key, params)
        return f"{self.base_url}/_blobs/{quote(key)}?{urlencode(params)}"

    def _sign(self, key: str, params: dict[str, str]) -> str:
        fields = [key] + [f"{name}={params[name]}" for name in sorted(params) if name != "X-Signature"]
        return hmac.new(self._secret, "\n".join(fields).encode(), hashlib.sha256).hexdigest()

    def verify(self, key: str, params: dict[str, str], method: str) -> SignedGrant | None:
        """The grant a signed URL carries, or None if it is forged, altered, expired or for another method."""
        signature = params.get("X-Signature", "")
        signed = {k: v for k, v in params.items() if k.startswith("X-") and k != "X-Signature"}
        if not hmac.compare_digest(signature, self._sign(key, signed)):
            return None
        try:
            expires_at = int(signed["X-Expires"])
            max_bytes = int(signed["X-Max-Bytes"]) if "X-Max-Bytes" in signed else None
        except (KeyError, ValueError):
            return None
        if signed.get("X-Method") != method or expires_at < time.time():
            return None
        return SignedGrant(key, method, expires_at, signed.get("X-Content-Type"), max_bytes)


def _remove_empty_dirs(root: Path) -> None:
    """Remove folders left empty under `root` (deepest first), keeping `root` itself."""
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:  # not empty, or a writer just created it
            continue


def _write_new(path: Path, data: bytes) -> None:
    """Write `path`, creating its folder; again if housekeeping removed the folder as empty meanwhile."""
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.write_bytes(data)
            return
        except FileNotFoundError:
            continue
