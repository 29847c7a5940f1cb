"""The embedded stack applies the bucket's lifecycle rules itself: the render kit's sweep deletes
intermediates, cached phrases, uploads and outputs older than their retention (the ages terraform gives
the bucket), and nothing younger or outside those prefixes."""

from __future__ import annotations

import os
import time

from singer_tasks.render.tasks import expire_old_blobs
from singer_tasks.settings import get_settings
from taskkit import Kit


def test_the_sweep_expires_blobs_past_their_retention(kit: Kit) -> None:
    rules = get_settings().blob_lifecycle_rules()
    assert set(rules) == {"intermediate/", "cache/phrases/", "uploads/", "jobs/"}
    now = time.time()
    kept, expired = [], []
    for prefix, age_s in rules.items():
        young, old = f"{prefix}a/young.bin", f"{prefix}a/old.bin"
        for key in (young, old):
            kit.blobs.put(key, b"x")
        stamp = now - age_s - 3600
        os.utime(kit.blobs._path(old), (stamp, stamp))  # type: ignore[attr-defined]
        kept.append(young)
        expired.append(old)
    other = "voice-samples/builtin/v1.wav"  # no lifecycle rule: kept whatever its age
    kit.blobs.put(other, b"x")
    os.utime(kit.blobs._path(other), (0, 0))  # type: ignore[attr-defined]

    assert expire_old_blobs(kit) == len(expired)
    assert all(kit.blobs.exists(k) for k in [*kept, other])
    assert not any(kit.blobs.exists(k) for k in expired)
    assert expire_old_blobs(kit) == 0
