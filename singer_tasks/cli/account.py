"""`python -m singer_tasks account delete UID --yes`: an operator deletes a user's account and all
their data, exactly as `DELETE /v1/me` does (singer_tasks/jobs/account.py): jobs in flight cancelled,
share links, songs, scores, the ledger, the user document and, on the gcp family, the Firebase Auth
user. Safe to run again: a deletion cut short finishes.

Runs on the backends the TASKKIT_* settings name (the service's `kit`), local or gcp alike.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parser", "cmd_delete"]


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete one user's account; without --yes, say what would happen and do nothing (status 2)."""
    from singer_tasks.jobs.account import auth_accounts_for, delete_account
    from singer_tasks.kit import kit

    if not args.yes:
        print(
            f"error: this deletes every job, song, score, share link and credit of {args.uid} for good; "
            "add --yes to do it",
            file=sys.stderr,
        )
        return 2
    report = delete_account(kit.documents, kit.blobs, args.uid, auth_accounts_for(kit))
    sign_in = "deleted" if report.auth_user_deleted else "none left"
    print(
        f"deleted account {args.uid}: {report.jobs_deleted} jobs ({report.jobs_cancelled} cancelled in flight), "
        f"{report.shares_deleted} share links, {report.blobs_deleted} files, {report.documents_deleted} other "
        f"documents; sign-in account: {sign_in}"
    )
    return 0


def add_parser(sub: Any) -> None:
    """Register `account` (delete) on the CLI's subparsers."""
    account = sub.add_parser("account", help="delete a user's account and all their data")
    actions = account.add_subparsers(dest="action", required=True)
    delete = actions.add_parser("delete", help="delete a user's account and all their data (re-runnable)")
    delete.add_argument("uid", help="the user's uid")
    delete.add_argument("--yes", action="store_true", help="really delete (nothing happens without it)")
    delete.set_defaults(func=cmd_delete)
