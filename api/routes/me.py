"""The caller's account: balance, reservations, what renders cost, and the credit ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.abuse import require_verified
from api.deps import CurrentUser, KitDep, SettingsDep
from api.schemas import CreditsPage, LedgerEntry, Me
from singer_tasks.jobs.ledger import list_entries
from singer_tasks.jobs.transitions import ensure_user

router = APIRouter(prefix="/v1", tags=["account"])


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
