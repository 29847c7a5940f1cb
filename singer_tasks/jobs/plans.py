"""Plans and their monthly allowance: once per calendar month (UTC) a user's balance is topped up to
their plan's allowance (`SINGER_PLAN_ALLOWANCES`, e.g. `{"free": 300, "pro": 3000}`).

The refill is one transaction writing the entry `refill:{YYYY-MM}` (amount: the top-up, 0 when the
balance is already at or above the allowance) and the user's `refilledFor`; the entry's id makes it
idempotent, so a month's refill happens once whatever the retries. `refill.py` runs it for every user
from the sweep.
"""

from __future__ import annotations

import time

from singer_tasks.jobs.ledger import SYSTEM, LedgerEntry, LedgerKind, ledger_path, post, read_user, user_fields
from singer_tasks.jobs.model import USERS, User, user_path
from singer_tasks.settings import SingerSettings
from taskkit.backends.base import DocumentStore, Transaction

__all__ = ["allowance", "month_of", "refill", "refill_entry_id", "users_to_refill"]


def month_of(now: float) -> str:
    """The calendar month (UTC) of an epoch time, `YYYY-MM`."""
    return time.strftime("%Y-%m", time.gmtime(now))


def refill_entry_id(month: str) -> str:
    """The id of a month's refill entry."""
    return f"refill:{month}"


def allowance(user: User, settings: SingerSettings) -> int:
    """The monthly allowance of the user's plan (0 for a plan the settings do not name)."""
    return settings.plan_allowances.get(user.plan, 0)


def refill(store: DocumentStore, uid: str, settings: SingerSettings, *, now: float | None = None) -> LedgerEntry | None:
    """Top the user's balance up to the plan's allowance, once for the month of `now`.

    Returns the entry written, or None if this month's refill was already made (AccountNotFound for
    an unknown user).
    """
    month = month_of(time.time() if now is None else now)
    entry_id = refill_entry_id(month)

    def write(tx: Transaction) -> LedgerEntry | None:
        user = read_user(tx, uid)
        if tx.get(ledger_path(uid, entry_id)) is not None:
            return None
        top_up = max(0, allowance(user, settings) - user.credits)
        reason = f"{user.plan} plan allowance for {month}"
        changed, entry = post(
            tx, user, LedgerKind.REFILL, top_up, entry_id=entry_id, actor=SYSTEM, reason=reason, now=now
        )
        tx.update(user_path(uid), {**user_fields(changed), "refilledFor": month})
        return entry

    return store.transaction(write)


def users_to_refill(store: DocumentStore, month: str, *, limit: int) -> list[str]:
    """Up to `limit` uids whose last refill is older than `month` (users without `refilledFor`, made
    before refills existed, are not found: give them one with `refill` or set the field)."""
    return [s.id for s in store.query(USERS, [("refilledFor", "<", month)], limit=limit)]
