"""The caller's account: balance, reservations, what renders cost, the credit ledger; an export of
everything stored for them, and deleting the account with all of it."""

from __future__ import annotations

import json
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from typing import IO, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.abuse import require_verified
from api.deps import CurrentUser, KitDep, SettingsDep
from api.schemas import CreditsPage, Job, LedgerEntry, Me, Problem
from singer_tasks.jobs import account as accounts
from singer_tasks.jobs import model
from singer_tasks.jobs.ledger import list_entries
from singer_tasks.jobs.transitions import ensure_user, list_jobs
from taskkit import Kit

router = APIRouter(prefix="/v1", tags=["account"])
EXPORT_CHUNK_BYTES = 256 * 1024
# Files already compressed are stored as they are; the rest (WAV, JSON, MusicXML) is deflated.
STORED_SUFFIXES = (".mp3", ".opus", ".ogg", ".flac", ".mxl")
_AUTH_LOCK = threading.Lock()


@router.get("/me", response_model=Me)
def me(user: CurrentUser, kit: KitDep, settings: SettingsDep) -> Me:
    """Balance, credits held by jobs in flight, and the most each render type reserves."""
    require_verified(user, settings)  # no starting credits for an unverified account
    account = ensure_user(kit.documents, user.uid, settings)
    return Me(
        uid=user.uid,
        balance=account.credits,
        reserved=account.reserved,
        available=account.available,
        in_flight=account.in_flight,
        plan=account.plan,
        costs={"preview": settings.max_cost("preview"), "final": settings.max_cost("final")},
    )


@router.get("/me/credits", response_model=CreditsPage)
def my_credits(
    user: CurrentUser,
    kit: KitDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[int | None, Query(ge=1, description="nextBefore of the previous page")] = None,
) -> CreditsPage:
    """The caller's balance and ledger entries (reservations, charges, releases, refunds, grants,
    refills), newest first."""
    require_verified(user, settings)
    account = ensure_user(kit.documents, user.uid, settings)
    found = list_entries(kit.documents, user.uid, limit=limit, before=before)
    next_before = found[-1].seq if len(found) == limit and found[-1].seq > 1 else None
    return CreditsPage(
        balance=account.credits,
        reserved=account.reserved,
        available=account.available,
        plan=account.plan,
        entries=[LedgerEntry.from_entry(e) for e in found],
        next_before=next_before,
    )


def get_auth_accounts(request: Request) -> accounts.AuthAccounts:
    """The sign-in provider's accounts for this app's backend family (one per app; tests override this)."""
    state = request.app.state
    with _AUTH_LOCK:
        if not hasattr(state, "auth_accounts"):
            state.auth_accounts = accounts.auth_accounts_for(state.kit)
    found: accounts.AuthAccounts = state.auth_accounts
    return found


AuthAccountsDep = Annotated[accounts.AuthAccounts, Depends(get_auth_accounts)]


@router.delete("/me", status_code=204, responses={401: {"model": Problem}})
def delete_me(user: CurrentUser, kit: KitDep, auth: AuthAccountsDep) -> Response:
    """Delete the caller's account and everything stored for them: jobs in flight are cancelled, then
    share links, songs (outputs and intermediates), scores, the credit ledger, the account and (gcp) the
    sign-in account go. Safe to repeat: a deletion cut short finishes when asked again."""
    accounts.delete_account(kit.documents, kit.blobs, user.uid, auth)
    return Response(status_code=204)


def _all_jobs(kit: Kit, uid: str) -> Iterator[model.Job]:
    before: float | None = None
    while page := list_jobs(kit.documents, uid, limit=100, before=before):
        yield from page
        before = page[-1].created_at


def _output_keys(job: model.Job) -> list[str]:
    """The blob keys of a completed job's files (each kind once)."""
    if job.outputs is None:
        return [job.output_path] if job.output_path else []
    named = [job.outputs.wav, job.outputs.flac, job.outputs.listen, job.outputs.ds, job.outputs.display]
    return list(dict.fromkeys(key for key in named if key))


def _write_blob(archive: zipfile.ZipFile, kit: Kit, key: str, name: str) -> None:
    # One blob in memory at a time: the export's memory is bounded by the largest file, not the total.
    compress = zipfile.ZIP_STORED if name.lower().endswith(STORED_SUFFIXES) else zipfile.ZIP_DEFLATED
    archive.writestr(name, kit.blobs.get(key), compress_type=compress)


def _json(archive: zipfile.ZipFile, name: str, value: Any) -> None:
    archive.writestr(name, json.dumps(value, indent=2, ensure_ascii=False), compress_type=zipfile.ZIP_DEFLATED)


def write_export(kit: Kit, uid: str, out: IO[bytes]) -> None:
    """Write the caller's data as a zip to `out`: scores/, outputs/{jobId}/, jobs.json, ledger.json,
    account.json."""
    stored = kit.documents.get(model.user_path(uid))  # read, never created: an export opens no account
    user = model.User.from_document(uid, stored) if stored is not None else None
    with zipfile.ZipFile(out, "w") as archive:
        prefix = accounts.uploads_prefix(uid)
        for key in kit.blobs.list(prefix):
            _write_blob(archive, kit, key, "scores/" + key[len(prefix) :])
        jobs: list[dict[str, Any]] = []
        for job in _all_jobs(kit, uid):
            jobs.append(Job.from_job(job).model_dump(by_alias=True, mode="json"))
            for key in _output_keys(job):
                _write_blob(archive, kit, key, f"outputs/{job.id}/{key.rpartition('/')[2]}")
        _json(archive, "jobs.json", jobs)
        entries, before = [], None
        while page := list_entries(kit.documents, uid, limit=100, before=before):
            entries += [LedgerEntry.from_entry(e).model_dump(by_alias=True, mode="json") for e in page]
            before = page[-1].seq
            if before <= 1:
                break
        _json(archive, "ledger.json", entries)
        account = user.to_document() if user is not None else {}
        _json(archive, "account.json", {"uid": uid, **account, "exportedAt": time.time()})


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := file.read(EXPORT_CHUNK_BYTES):
            yield chunk
    finally:
        file.close()


@router.get(
    "/me/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "a zip of everything stored for you"}},
)
def export_me(user: CurrentUser, kit: KitDep) -> StreamingResponse:
    """Everything stored for the caller, as a zip: `scores/` (the uploads), `outputs/{jobId}/` (each
    completed song's files), `jobs.json` (the jobs as GET /v1/jobs shows them), `ledger.json` (every
    credit entry, newest first) and `account.json`. Built in a temporary file, then streamed. (Any
    signed-in user may export what is stored for them, verified or not.)"""
    spool = tempfile.TemporaryFile(prefix="export-")  # noqa: SIM115 - closed by _chunks once sent
    try:
        write_export(kit, user.uid, spool)
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    headers = {
        "Content-Disposition": f'attachment; filename="singer-export-{user.uid}.zip"',
        "Content-Length": str(size),
        "Cache-Control": "no-store",
    }
    return StreamingResponse(_chunks(spool), media_type="application/zip", headers=headers)
