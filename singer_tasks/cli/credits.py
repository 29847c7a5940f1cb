"""`python -m singer_tasks credits grant|show|refill`: operators' view of users' credits.

Runs on the backends the TASKKIT_* settings name (the service's `kit`), local or gcp alike.

- ``grant UID N --reason TEXT [--request-id ID]``: add N credits (negative: take them away), with a
  ledger entry naming the operator; the same request id grants once.
- ``show UID [--limit N]``: balance, reserved, plan and the newest ledger entries.
- ``refill UID``: this month's plan allowance, if not made yet (for users made before refills existed).
- ``backfill [UID ...]``: the opening ledger entries of accounts made before the ledger (all of them
  when no uid is named), so that their ledger replays to their balance.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from singer_tasks.jobs.ledger import AccountNotFound, LedgerEntry

__all__ = ["add_parser", "cmd_backfill", "cmd_grant", "cmd_refill", "cmd_show"]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this environment
        return "cli"


def _describe(entry: LedgerEntry) -> str:
    what = entry.job_id or entry.reason or ""
    return (
        f"{entry.seq:>5}  {entry.kind.value:<8} {entry.amount:>+7}  balance {entry.balance_after:>6}  "
        f"reserved {entry.reserved_after:>5}  {entry.actor:<16} {entry.id}  {what}"
    ).rstrip()


def cmd_grant(args: argparse.Namespace) -> int:
    """Grant credits to a user; exit status 2 for an unknown user or a bad amount."""
    from singer_tasks.jobs.ledger import grant_credits
    from singer_tasks.kit import kit

    try:
        posted = grant_credits(
            kit.documents, args.uid, args.amount, reason=args.reason, actor=_actor(), grant_id=args.request_id
        )
    except (AccountNotFound, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    verb = "granted" if posted.created else "already granted"
    print(
        f"{verb} {posted.entry.amount:+d} to {args.uid}: balance {posted.user.credits}, reserved {posted.user.reserved}"
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Print a user's balance and ledger, newest first."""
    from singer_tasks.jobs.ledger import list_entries
    from singer_tasks.jobs.model import User, user_path
    from singer_tasks.kit import kit

    data = kit.documents.get(user_path(args.uid))
    if data is None:
        print(f"error: no user {args.uid}", file=sys.stderr)
        return 2
    user = User.from_document(args.uid, data)
    print(f"user {user.uid}: plan {user.plan}, balance {user.credits}, reserved {user.reserved}, "
          f"available {user.available}, jobs in flight {user.in_flight}")  # fmt: skip
    for entry in list_entries(kit.documents, args.uid, limit=args.limit):
        print(_describe(entry))
    return 0


def cmd_refill(args: argparse.Namespace) -> int:
    """Give a user this month's plan allowance, once."""
    from singer_tasks.jobs.plans import refill
    from singer_tasks.kit import kit
    from singer_tasks.settings import get_settings

    try:
        entry = refill(kit.documents, args.uid, get_settings())
    except AccountNotFound as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if entry is None:
        print(f"{args.uid} was already refilled this month")
    else:
        print(f"refilled {args.uid}: {entry.amount:+d}, balance {entry.balance_after}")
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    """Open the ledger of the named accounts, or of every account that has none; exit 2 for an unknown uid."""
    from singer_tasks.jobs.ledger import accounts_without_ledger, open_ledger
    from singer_tasks.kit import kit

    uids = args.uid or accounts_without_ledger(kit.documents)
    opened = 0
    for uid in uids:
        try:
            opened += open_ledger(kit.documents, uid)
        except AccountNotFound as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    print(f"opened the ledger of {opened} of {len(uids)} accounts")
    return 0


def add_parser(sub: Any) -> None:
    """Register `credits` (grant, show, refill) on the CLI's subparsers."""
    credits = sub.add_parser("credits", help="grant credits to a user, show a user's balance and ledger")
    actions = credits.add_subparsers(dest="action", required=True)
    grant = actions.add_parser("grant", help="add credits to a user (negative: take them away)")
    grant.add_argument("uid", help="the user's uid")
    grant.add_argument("amount", type=int, help="credits to add (not zero)")
    grant.add_argument("--reason", required=True, help="why (kept in the ledger entry)")
    grant.add_argument("--request-id", help="an idempotency key: the same id grants once")
    grant.set_defaults(func=cmd_grant)
    show = actions.add_parser("show", help="a user's balance, reservations and ledger (newest first)")
    show.add_argument("uid", help="the user's uid")
    show.add_argument("--limit", type=int, default=50, help="ledger entries to print (default 50)")
    show.set_defaults(func=cmd_show)
    refill = actions.add_parser("refill", help="this month's plan allowance for one user, if not given yet")
    refill.add_argument("uid", help="the user's uid")
    refill.set_defaults(func=cmd_refill)
    backfill = actions.add_parser("backfill", help="opening ledger entries for accounts made before the ledger")
    backfill.add_argument("uid", nargs="*", help="the accounts to open (default: every account without a ledger)")
    backfill.set_defaults(func=cmd_backfill)
