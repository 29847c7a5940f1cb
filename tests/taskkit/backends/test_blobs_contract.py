"""The blob-store contract, run against both families (see conftest.py).

Signed URLs are used for real, over HTTP with httpx: local ones against the blob router served by
uvicorn, gcp ones against fake-gcs-server (signed through the IAM signBlob stand-in). fake-gcs-server
does not check signatures, so the refusal cases run on the local family only; the gcp signatures are
verified cryptographically in tests/taskkit/test_gcp_signing.py.
"""

from __future__ import annotations

import urllib.parse

import httpx
import pytest

from taskkit.errors import AlreadyExists, BackendError, NotFound
from tests.taskkit.backends.concurrency import race
from tests.taskkit.backends.conftest import BlobHarness


def test_put_get_exists_delete(blob_harness: BlobHarness) -> None:
    store, key = blob_harness.store, blob_harness.key("jobs/j1/output.wav")
    assert store.exists(key) is False
    with pytest.raises(NotFound):
        store.get(key)
    store.put(key, b"RIFF....", content_type="audio/wav")
    assert store.exists(key) is True
    assert store.get(key) == b"RIFF...."
    store.put(key, b"replaced")
    assert store.get(key) == b"replaced"
    store.delete(key)
    assert store.exists(key) is False
    store.delete(key)  # absent: not an error


def test_create_only_put(blob_harness: BlobHarness) -> None:
    store, key = blob_harness.store, blob_harness.key("once.bin")
    store.put(key, b"first", if_absent=True)
    with pytest.raises(AlreadyExists):
        store.put(key, b"second", if_absent=True)
    assert store.get(key) == b"first"


def test_create_only_race_has_one_winner(blob_harness: BlobHarness) -> None:
    store, key = blob_harness.store, blob_harness.key("raced.bin")
    results = race(6, lambda i: store.put(key, f"writer {i}".encode(), if_absent=True))
    winners = [i for i, r in enumerate(results) if r is None]
    assert len(winners) == 1, results
    assert all(isinstance(r, AlreadyExists) for i, r in enumerate(results) if i not in winners)
    assert store.get(key) == f"writer {winners[0]}".encode()


def test_list_by_prefix(blob_harness: BlobHarness) -> None:
    store = blob_harness.store
    names = ["jobs/b/output.wav", "jobs/a/output.wav", "jobs/a/part-1.bin", "uploads/u1/s.musicxml"]
    for name in names:
        store.put(blob_harness.key(name), b"x")
    assert store.list(blob_harness.key("jobs/")) == [
        blob_harness.key("jobs/a/output.wav"),
        blob_harness.key("jobs/a/part-1.bin"),
        blob_harness.key("jobs/b/output.wav"),
    ]
    assert store.list(blob_harness.key("jobs/a/")) == [
        blob_harness.key("jobs/a/output.wav"),
        blob_harness.key("jobs/a/part-1.bin"),
    ]
    assert store.list(blob_harness.key("nothing/")) == []
    assert sorted(store.list(blob_harness.prefix)) == sorted(blob_harness.key(n) for n in names)


def test_invalid_keys_are_refused(blob_harness: BlobHarness) -> None:
    for bad in ("/abs", "a/../b", "a//b", ""):
        with pytest.raises(BackendError):
            blob_harness.store.put(bad, b"x")


def test_signed_get_url_serves_the_object(blob_harness: BlobHarness) -> None:
    store, key = blob_harness.store, blob_harness.key("jobs/j1/output.wav")
    store.put(key, b"sung audio", content_type="audio/wav")
    url = store.signed_url(key, method="GET", expires_s=300)
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.content == b"sung audio"


def test_signed_put_url_uploads(blob_harness: BlobHarness) -> None:
    store, key = blob_harness.store, blob_harness.key("uploads/u1/score.musicxml")
    url = store.signed_url(key, method="PUT", expires_s=300, content_type="application/xml", max_bytes=1000)
    headers = {"Content-Type": "application/xml", "x-goog-content-length-range": "0,1000"}
    response = httpx.put(url, content=b"<score-partwise/>", headers=headers, timeout=10)
    assert response.status_code in (200, 201), response.text
    assert store.get(key) == b"<score-partwise/>"


def test_signed_url_arguments_are_checked(blob_harness: BlobHarness) -> None:
    store = blob_harness.store
    with pytest.raises(BackendError):
        store.signed_url(blob_harness.key("x"), method="DELETE")  # type: ignore[arg-type]
    with pytest.raises(BackendError):
        store.signed_url(blob_harness.key("x"), expires_s=0)
    with pytest.raises(BackendError):
        store.signed_url(blob_harness.key("x"), expires_s=8 * 24 * 3600)


def _only_local(blob_harness: BlobHarness) -> None:
    if blob_harness.family != "local":
        pytest.skip("fake-gcs-server does not verify signatures; see test_gcp_signing.py for the gcp check")


def test_signed_urls_refuse_tampering_and_misuse(blob_harness: BlobHarness) -> None:
    _only_local(blob_harness)
    store, key = blob_harness.store, blob_harness.key("secret.wav")
    store.put(key, b"private")
    url = store.signed_url(key, method="GET", expires_s=300)
    other = url.replace(urllib.parse.quote(key), urllib.parse.quote(blob_harness.key("other.wav")))
    assert httpx.get(other, timeout=10).status_code == 403, "a signature covers one object only"
    assert httpx.put(url, content=b"overwrite", timeout=10).status_code == 403, "a GET URL cannot PUT"
    assert store.get(key) == b"private"


def test_signed_put_binds_content_type_and_size(blob_harness: BlobHarness) -> None:
    _only_local(blob_harness)
    store, key = blob_harness.store, blob_harness.key("uploads/u1/s.musicxml")
    url = store.signed_url(key, method="PUT", expires_s=300, content_type="application/xml", max_bytes=10)
    wrong_type = httpx.put(url, content=b"<a/>", headers={"Content-Type": "text/html"}, timeout=10)
    assert wrong_type.status_code == 403
    too_big = httpx.put(url, content=b"<a>" + b"x" * 20 + b"</a>", headers={"Content-Type": "application/xml"})
    assert too_big.status_code == 413
    assert store.exists(key) is False
