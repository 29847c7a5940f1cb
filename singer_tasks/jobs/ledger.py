"""The credit ledger: every change of a user's balance or reservations as an append-only entry.

`users/{uid}/ledger/{entryId}`, written in the same transaction as the change it records (see
`transitions.py` and `plans.py`). An entry's `amount` is the change of the user's *available* credits
(balance - reserved), signed; its `kind` says which side moved:

| kind | written by | amount | moves |
|---|---|---|---|
| reserve | create_job (`{jobId}:reserve`) | -R | reserved += R |
| charge | complete_job (`{jobId}:charge`) | -C | balance -= C |
| release | complete_job (`{jobId}:release`) | +R | reserved -= R (the whole hold; the charge took the cost) |
| refund | fail_job / cancel_job (`{jobId}:refund`) | +R | reserved -= R |
| grant | the starting credits (`signup`), operators (`grant:{id}`) | +/-N | balance += N |
| refill | the monthly allowance (`refill:{YYYY-MM}`) | +N | balance += N |
| grant, reserve | an account made before the ledger (`opening:balance`, `opening:reserved`) | +B, -R | nothing |

So the sum of the amounts is what the user has available, and `replay` rebuilds the balance and the
reservations. Ids are deterministic where the transition is, and entries are created (never
replaced), so a transaction retried after its commit cannot write a second one. `seq` numbers a
user's entries 1, 2, 3... (the user document's `ledgerSeq` is the last): the API pages on it.

An account made before the ledger existed has a balance and no entries. Its first posting (or
`open_ledger`, which `python -m singer_tasks credits backfill` runs for every such account) first
writes its opening entries, which record the balance and reservations it already had without moving
them, so its ledger replays to its balance from then on.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from singer_tasks.errors import InsufficientCredits
from singer_tasks.jobs.model import USERS, StoredModel, User, user_path
from taskkit.backends.base import DocumentStore, Transaction

LEDGER = "ledger"
SYSTEM = "system"

__all__ = [
    "HOLD_KINDS",
    "LEDGER",
    "SYSTEM",
    "AccountNotFound",
    "LedgerEntry",
    "LedgerKind",
    "Posted",
    "Totals",
    "accounts_without_ledger",
    "grant_credits",
    "job_entry_id",
    "ledger_collection",
    "ledger_path",
    "list_entries",
    "open_ledger",
    "opening_entries",
    "post",
    "read_user",
    "replay",
    "user_fields",
]


class AccountNotFound(LookupError):
    """Raised when an operation needs an existing user document and there is none."""


class LedgerKind(StrEnum):
    """What an entry records (see the module's table)."""

    RESERVE = "reserve"
    CHARGE = "charge"
    RELEASE = "release"
    REFUND = "refund"
    GRANT = "grant"
    REFILL = "refill"


# Kinds that move the reservations; the others move the balance.
HOLD_KINDS = frozenset({LedgerKind.RESERVE, LedgerKind.RELEASE, LedgerKind.REFUND})


def ledger_collection(uid: str) -> str:
    """The collection of a user's ledger entries."""
    return f"{USERS}/{uid}/{LEDGER}"


def ledger_path(uid: str, entry_id: str) -> str:
    """Document path of one ledger entry."""
    return f"{ledger_collection(uid)}/{entry_id}"


def job_entry_id(job_id: str, kind: LedgerKind) -> str:
    """The deterministic id of a job's entry of `kind` (`{jobId}:reserve`, `{jobId}:charge`...)."""
    return f"{job_id}:{kind.value}"


class LedgerEntry(StoredModel):
    """`users/{uid}/ledger/{entryId}`; `id` is the document's id, not a field."""

    id: str
    kind: LedgerKind
    amount: int
    balance_after: int
    reserved_after: int
    seq: int
    job_id: str | None = None
    reason: str | None = None
    actor: str
    at: float

    @classmethod
    def from_document(cls, entry_id: str, data: dict[str, Any]) -> LedgerEntry:
        """A stored entry (camelCase) as a LedgerEntry."""
        return cls.model_validate({**data, "id": entry_id})

    def to_document(self) -> dict[str, Any]:
        """The document to store (camelCase, without the id)."""
        data: dict[str, Any] = self.model_dump(by_alias=True, mode="json", exclude={"id"})
        return data


def post(
    tx: Transaction,
    user: User,
    kind: LedgerKind,
    amount: int,
    *,
    entry_id: str,
    actor: str,
    job_id: str | None = None,
    reason: str | None = None,
    now: float | None = None,
) -> tuple[User, LedgerEntry]:
    """Apply `amount` to `user` as `kind` says and create its entry in `tx`.

    Returns the user as it is after the change (the caller writes the user document's fields, see
    `user_fields`, in the same transaction) and the entry. Only writes: do every read before. A user
    without entries who already holds credits gets their opening entries first (`opening_entries`).
    """
    user = opening_entries(tx, user, now=now)
    if kind in HOLD_KINDS:
        changed = user.model_copy(update={"reserved": user.reserved - amount, "ledger_seq": user.ledger_seq + 1})
    else:
        changed = user.model_copy(update={"credits": user.credits + amount, "ledger_seq": user.ledger_seq + 1})
    entry = LedgerEntry(
        id=entry_id,
        kind=kind,
        amount=amount,
        balance_after=changed.credits,
        reserved_after=changed.reserved,
        seq=changed.ledger_seq,
        job_id=job_id,
        reason=reason,
        actor=actor,
        at=time.time() if now is None else now,
    )
    tx.create(ledger_path(user.uid, entry_id), entry.to_document())
    return changed, entry


OPENING_BALANCE = "opening:balance"
OPENING_RESERVED = "opening:reserved"


def opening_entries(tx: Transaction, user: User, *, now: float | None = None) -> User:
    """For an account made before the ledger (no entries, yet a balance or reservations): create the
    entries that record what it holds, and return the user with its `ledger_seq` advanced past them.
    Any other user is returned as it is. The caller writes `user_fields` of the result in `tx`."""
    if user.ledger_seq != 0 or (user.credits == 0 and user.reserved == 0):
        return user
    at = time.time() if now is None else now
    reason = "the balance the account had before the ledger"
    seq = 0
    for entry_id, kind, amount, reserved_after in (
        (OPENING_BALANCE, LedgerKind.GRANT, user.credits, 0),
        (OPENING_RESERVED, LedgerKind.RESERVE, -user.reserved, user.reserved),
    ):
        if amount == 0 and kind is LedgerKind.RESERVE:
            continue
        seq += 1
        entry = LedgerEntry(
            id=entry_id, kind=kind, amount=amount, balance_after=user.credits, reserved_after=reserved_after,
            seq=seq, reason=reason, actor=SYSTEM, at=at,
        )  # fmt: skip
        tx.create(ledger_path(user.uid, entry_id), entry.to_document())
    return user.model_copy(update={"ledger_seq": seq})


def open_ledger(store: DocumentStore, uid: str) -> bool:
    """Write the opening entries of an account made before the ledger; False if it needed none
    (AccountNotFound for an unknown user). Idempotent: a second call finds the entries and does nothing."""

    def write(tx: Transaction) -> bool:
        user = read_user(tx, uid)
        opened = opening_entries(tx, user)
        if opened is user:
            return False
        tx.update(user_path(uid), user_fields(opened))
        return True

    return store.transaction(write)


def accounts_without_ledger(store: DocumentStore) -> list[str]:
    """Every uid whose document has no ledger yet (no `ledgerSeq`, or 0). One scan of the users
    collection: a one-off migration, not a request path (Firestore cannot query for a missing field)."""
    return [snap.id for snap in store.query(USERS) if not snap.data.get("ledgerSeq")]


def user_fields(user: User) -> dict[str, Any]:
    """The user document's ledger-side fields, for `tx.update`."""
    return {"credits": user.credits, "reserved": user.reserved, "ledgerSeq": user.ledger_seq}


@dataclass(frozen=True)
class Totals:
    """What a ledger adds up to."""

    balance: int
    reserved: int

    @property
    def available(self) -> int:
        """Balance less reservations."""
        return self.balance - self.reserved


def replay(entries: Iterable[LedgerEntry]) -> Totals:
    """The balance and reservations a user's entries add up to (any order: the sum does not care)."""
    balance = reserved = 0
    for entry in entries:
        if entry.kind in HOLD_KINDS:
            reserved -= entry.amount
        else:
            balance += entry.amount
    return Totals(balance=balance, reserved=reserved)


def list_entries(store: DocumentStore, uid: str, *, limit: int, before: int | None = None) -> list[LedgerEntry]:
    """A user's entries, newest first; `before` (a `seq`) pages backwards."""
    filters: list[Any] = [] if before is None else [("seq", "<", before)]
    snaps = store.query(ledger_collection(uid), filters, order_by=[("seq", "desc")], limit=limit)
    return [LedgerEntry.from_document(s.id, s.data) for s in snaps]


def read_user(tx: Transaction, uid: str) -> User:
    """The user in `tx`; AccountNotFound if there is no such user."""
    data = tx.get(user_path(uid))
    if data is None:
        raise AccountNotFound(f"no user {uid}")
    return User.from_document(uid, data)


@dataclass(frozen=True)
class Posted:
    """The outcome of an idempotent posting: the user after it, the entry, and whether this call wrote it."""

    user: User
    entry: LedgerEntry
    created: bool


def grant_credits(
    store: DocumentStore, uid: str, amount: int, *, reason: str, actor: str, grant_id: str | None = None
) -> Posted:
    """An operator's grant (or, negative, a debit) to an existing user, with its entry `grant:{grant_id}`.

    The same `grant_id` twice grants once (the second call returns the first entry, `created` False);
    without one, every call is a new grant. ValueError for a zero amount or an empty reason;
    InsufficientCredits if a debit would leave less than the jobs in flight hold; AccountNotFound for an
    unknown user.
    """
    if amount == 0:
        raise ValueError("a grant needs a non-zero amount")
    if not reason.strip():
        raise ValueError("a grant needs a reason")
    entry_id = f"grant:{grant_id or uuid.uuid4().hex}"

    def write(tx: Transaction) -> Posted:
        user = read_user(tx, uid)
        existing = tx.get(ledger_path(uid, entry_id))
        if existing is not None:
            return Posted(user, LedgerEntry.from_document(entry_id, existing), created=False)
        if user.credits + amount < user.reserved:
            raise InsufficientCredits(
                f"a debit of {-amount} would leave {user.credits + amount} credits, less than the {user.reserved} "
                "held by jobs in flight"
            )
        changed, entry = post(tx, user, LedgerKind.GRANT, amount, entry_id=entry_id, actor=actor, reason=reason)
        tx.update(user_path(uid), user_fields(changed))
        return Posted(changed, entry, created=True)

    return store.transaction(write)
