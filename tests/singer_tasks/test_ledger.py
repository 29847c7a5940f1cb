"""The credit ledger: every balance or reservation change is an entry written with it, replaying a
user's entries gives their balance and reservations, retried transitions add nothing, the monthly
refill happens once a month, and operators grant through the CLI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from singer_tasks.cli.main import main
from singer_tasks.errors import InsufficientCredits, JobStateError
from singer_tasks.jobs import transitions as jobs
from singer_tasks.jobs.ledger import (
    AccountNotFound,
    LedgerEntry,
    LedgerKind,
    grant_credits,
    ledger_collection,
    list_entries,
    replay,
)
from singer_tasks.jobs.model import User, upload_key, user_path
from singer_tasks.jobs.plans import month_of, refill
from singer_tasks.jobs.refill import refill_monthly_allowances
from singer_tasks.kit import kit as service_kit
from singer_tasks.settings import SingerSettings
from taskkit import Kit, Settings
from taskkit.backends.base import DocumentStore
from taskkit.backends.local.documents import LocalDocumentStore

SETTINGS = SingerSettings(
    default_credits=100, max_jobs_in_flight=10, max_song_seconds=60, plan_allowances={"free": 300, "pro": 3000}
)
OUTPUT = {"wav": "jobs/j/out.wav"}
JAN = 1_736_000_000.0  # 2025-01-04 (UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DocumentStore]:
    documents = LocalDocumentStore(tmp_path / "documents.sqlite3")
    yield documents
    documents.close()


def request(uid: str = "ada", render_type: str = "final") -> jobs.JobRequest:
    return jobs.JobRequest(uid, upload_key(uid, "a" * 32, ".musicxml"), render_type, "builtin", None)  # type: ignore[arg-type]


def user(store: DocumentStore, uid: str = "ada") -> User:
    return User.from_document(uid, store.get(user_path(uid)) or {})


def entries(store: DocumentStore, uid: str = "ada") -> list[LedgerEntry]:
    return list_entries(store, uid, limit=1000)


def assert_adds_up(store: DocumentStore, uid: str = "ada") -> None:
    account, found = user(store, uid), entries(store, uid)
    totals = replay(found)
    assert (totals.balance, totals.reserved) == (account.credits, account.reserved)
    assert sum(e.amount for e in found) == account.available
    assert [e.seq for e in found] == list(range(len(found), 0, -1)) and account.ledger_seq == len(found)
    newest = found[0]
    assert (newest.balance_after, newest.reserved_after) == (account.credits, account.reserved)


def run_mix(store: DocumentStore) -> dict[str, str]:
    """Jobs completed, failed, cancelled and pending, and grants; returns the job ids by fate."""
    ids = {}
    for fate in ("completed", "failed", "cancelled", "pending"):
        ids[fate] = jobs.create_job(store, request(render_type="preview" if fate == "failed" else "final"), SETTINGS).id
    assert jobs.start_job(store.transaction, ids["completed"]) is not None
    assert jobs.complete_job(store.transaction, ids["completed"], output=OUTPUT, seconds=25.0, settings=SETTINGS)
    assert jobs.fail_job(store.transaction, ids["failed"], code="boom", message="it broke")
    jobs.cancel_job(store, ids["cancelled"], "ada")
    grant_credits(store, "ada", 40, reason="goodwill", actor="admin:op", grant_id="g1")
    grant_credits(store, "ada", -5, reason="correction", actor="admin:op")
    return ids


def test_each_change_writes_its_entry_and_the_ledger_replays_to_the_balance(store: DocumentStore) -> None:
    ids = run_mix(store)
    assert_adds_up(store)
    by_id = {e.id: e for e in entries(store)}
    reserve = SETTINGS.max_cost("final")
    assert by_id["signup"].kind is LedgerKind.GRANT and by_id["signup"].amount == 100
    done = ids["completed"]
    assert by_id[f"{done}:reserve"].amount == -reserve and by_id[f"{done}:reserve"].actor == "ada"
    assert by_id[f"{done}:charge"].amount == -SETTINGS.cost(25.0, "final") and by_id[f"{done}:charge"].job_id == done
    assert by_id[f"{done}:release"].amount == reserve
    assert by_id[f"{ids['failed']}:refund"].amount == SETTINGS.max_cost("preview")
    assert by_id[f"{ids['cancelled']}:refund"].actor == "ada"
    assert by_id["grant:g1"].reason == "goodwill" and by_id["grant:g1"].actor == "admin:op"
    account = user(store)
    assert account.credits == 100 - SETTINGS.cost(25.0, "final") + 40 - 5
    assert account.reserved == reserve and account.in_flight == 1  # the pending job still holds its reservation


def test_repeated_transitions_add_no_entries(store: DocumentStore) -> None:
    ids = run_mix(store)
    before = entries(store)
    assert not jobs.complete_job(store.transaction, ids["completed"], output=OUTPUT, seconds=25.0, settings=SETTINGS)
    assert not jobs.fail_job(store.transaction, ids["failed"], code="boom", message="again")
    assert not jobs.fail_job(store.transaction, ids["completed"], code="boom", message="late")
    with pytest.raises(JobStateError):
        jobs.cancel_job(store, ids["cancelled"], "ada")
    again = grant_credits(store, "ada", 40, reason="goodwill", actor="admin:op", grant_id="g1")
    assert not again.created and again.entry.id == "grant:g1"
    jobs.ensure_user(store, "ada", SETTINGS)
    assert entries(store) == before
    assert_adds_up(store)


def test_pages_newest_first(store: DocumentStore) -> None:
    run_mix(store)
    first = list_entries(store, "ada", limit=3)
    rest = list_entries(store, "ada", limit=100, before=first[-1].seq)
    assert [e.seq for e in first + rest] == sorted((e.seq for e in entries(store)), reverse=True)
    assert len(first) == 3


def test_grants_refuse_nonsense(store: DocumentStore) -> None:
    with pytest.raises(AccountNotFound):
        grant_credits(store, "nobody", 5, reason="x", actor="op")
    jobs.ensure_user(store, "ada", SETTINGS)
    with pytest.raises(ValueError):
        grant_credits(store, "ada", 0, reason="x", actor="op")
    with pytest.raises(ValueError):
        grant_credits(store, "ada", 5, reason=" ", actor="op")
    with pytest.raises(InsufficientCredits):
        grant_credits(store, "ada", -101, reason="x", actor="op")
    assert store.query(ledger_collection("nobody")) == []
    assert_adds_up(store)


def test_refill_tops_up_to_the_allowance_once_a_month(store: DocumentStore) -> None:
    jobs.ensure_user(store, "ada", SETTINGS)
    first = refill(store, "ada", SETTINGS, now=JAN)
    assert first is not None and first.id == "refill:2025-01" and first.amount == 200 and first.balance_after == 300
    assert refill(store, "ada", SETTINGS, now=JAN + 3600) is None
    grant_credits(store, "ada", -250, reason="spent", actor="op")
    assert refill(store, "ada", SETTINGS, now=JAN + 86400) is None  # still January
    february = refill(store, "ada", SETTINGS, now=JAN + 31 * 86400)
    assert february is not None and february.id == "refill:2025-02" and february.amount == 250
    assert user(store).refilled_for == "2025-02"
    store.update(user_path("ada"), {"plan": "pro"})
    assert refill(store, "ada", SETTINGS, now=JAN + 60 * 86400) is not None and user(store).credits == 3000
    store.update(user_path("ada"), {"plan": "gold"})  # a plan without an allowance: nothing added
    march_entry = refill(store, "ada", SETTINGS, now=JAN + 90 * 86400)
    assert march_entry is not None and march_entry.amount == 0
    assert_adds_up(store)


def test_the_reconciler_refills_users_not_refilled_this_month(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINGER_PLAN_ALLOWANCES", '{"free": 500}')
    monkeypatch.setenv("SINGER_DEFAULT_CREDITS", "100")
    from singer_tasks.settings import get_settings

    get_settings.cache_clear()
    kit = Kit("test", settings=Settings(backend="local", data_dir=tmp_path))
    try:
        assert (
            service_kit.reconcilers["singer_tasks.jobs.refill.refill_monthly_allowances"] is refill_monthly_allowances
        )
        for uid in ("ada", "bob"):
            jobs.ensure_user(kit.documents, uid, SETTINGS)
        assert refill_monthly_allowances(kit) == 0  # new users count as refilled for their first month
        kit.documents.update(user_path("ada"), {"refilledFor": "2000-01"})
        assert refill_monthly_allowances(kit) == 1
        assert refill_monthly_allowances(kit) == 0
        assert user(kit.documents).credits == 500 and user(kit.documents, "bob").credits == 100
        assert user(kit.documents).refilled_for == month_of(time.time())
        assert_adds_up(kit.documents)
    finally:
        kit.close()
        get_settings.cache_clear()


@pytest.fixture
def env_kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kit]:
    """The service's kit built from TASKKIT_* variables naming a fresh local data folder."""
    monkeypatch.setenv("TASKKIT_BACKEND", "local")
    monkeypatch.setenv("TASKKIT_DATA_DIR", str(tmp_path / "data"))
    service_kit.close()
    service_kit._settings = None
    yield service_kit
    service_kit.close()
    service_kit._settings = None


def test_cli_grants_and_shows(env_kit: Kit, capsys: pytest.CaptureFixture[str]) -> None:
    jobs.ensure_user(env_kit.documents, "ada", SETTINGS)
    assert main(["credits", "grant", "ada", "25", "--reason", "support ticket 12", "--request-id", "t12"]) == 0
    assert "balance 125" in capsys.readouterr().out
    assert main(["credits", "grant", "ada", "25", "--reason", "support ticket 12", "--request-id", "t12"]) == 0
    assert "already granted" in capsys.readouterr().out
    assert user(env_kit.documents).credits == 125
    assert main(["credits", "grant", "ada", "-5", "--reason", "correction"]) == 0
    assert main(["credits", "show", "ada"]) == 0
    out = capsys.readouterr().out
    assert "balance 120" in out and "grant:t12" in out and "support ticket 12" in out and "signup" in out
    assert main(["credits", "grant", "nobody", "5", "--reason", "x"]) == 2
    assert main(["credits", "show", "nobody"]) == 2
    assert main(["credits", "grant", "ada", "0", "--reason", "x"]) == 2
    entry = next(e for e in entries(env_kit.documents) if e.id == "grant:t12")
    assert entry.actor.startswith("cli") and entry.amount == 25
    assert_adds_up(env_kit.documents)


def pre_ledger_user(store: DocumentStore, uid: str, credits: int, reserved: int = 0, in_flight: int = 0) -> None:
    """A user document as the service wrote it before the ledger existed (no `ledgerSeq`, no entries)."""
    store.set(user_path(uid), {"credits": credits, "reserved": reserved, "inFlight": in_flight, "plan": "free"})


def test_an_account_made_before_the_ledger_opens_it_at_its_first_change(store: DocumentStore) -> None:
    pre_ledger_user(store, "ada", credits=70, reserved=20, in_flight=1)
    job = jobs.create_job(store, request(), SETTINGS)
    found = entries(store)
    assert [e.id for e in reversed(found)] == ["opening:balance", "opening:reserved", f"{job.id}:reserve"]
    assert (found[-1].balance_after, found[-2].reserved_after) == (70, 20)
    assert_adds_up(store)
    grant_credits(store, "ada", 5, reason="goodwill", actor="admin:op")
    assert_adds_up(store)
    assert len(entries(store)) == 4  # opened once


def test_backfill_opens_every_account_without_a_ledger(env_kit: Kit, capsys: pytest.CaptureFixture[str]) -> None:
    documents = env_kit.documents
    pre_ledger_user(documents, "old1", credits=40)
    pre_ledger_user(documents, "old2", credits=15, reserved=15, in_flight=1)
    pre_ledger_user(documents, "broke", credits=0)  # nothing to record
    jobs.ensure_user(documents, "new", SETTINGS)
    assert main(["credits", "backfill"]) == 0
    assert "opened the ledger of 2 of 3 accounts" in capsys.readouterr().out
    for uid in ("old1", "old2", "new"):
        assert_adds_up(documents, uid)
    assert entries(documents, "broke") == []
    assert main(["credits", "backfill", "old1"]) == 0
    assert "opened the ledger of 0 of 1" in capsys.readouterr().out
    assert len(entries(documents, "old1")) == 1
    assert main(["credits", "backfill", "nobody"]) == 2
