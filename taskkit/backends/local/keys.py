"""The embedded stack's secrets on disk: a private data folder and a private signing key.

The data folder holds the documents, the queue, the blobs and the key that signs local URLs and
tokens, so it is made 0700 and the key 0600 (created that way, never widened afterwards), and a
folder or key left readable by an older version is tightened on first use.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

DIR_MODE = 0o700
KEY_MODE = 0o600
KEY_NAME = "signing.key"


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if missing, and make `path` itself 0700."""
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != DIR_MODE:
        with contextlib.suppress(PermissionError):  # not ours: leave it, the key is still 0600
            path.chmod(DIR_MODE)
    return path


def signing_key(data_dir: Path, configured: str | None = None) -> bytes:
    """The HMAC key for local signed URLs and tokens: `configured` if given, else `<data_dir>/signing.key`.

    The key file is created 0600 in a 0700 folder. It is written to a private scratch file first and
    then linked into place: a link is create-only, so concurrent processes agree on one key and no
    process reads a half-written file.
    """
    if configured:
        return configured.encode()
    folder = private_dir(Path(data_dir))
    path = folder / KEY_NAME
    if not path.exists():
        scratch = folder / f".signing.{secrets.token_hex(4)}"
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_MODE)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
            with contextlib.suppress(FileExistsError):
                os.link(scratch, path)
        finally:
            scratch.unlink(missing_ok=True)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(KEY_MODE)
    return path.read_text().strip().encode()
