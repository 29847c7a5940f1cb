"""The caller's account: balance, reservations, what renders cost."""

from __future__ import annotations

from fastapi import APIRouter

from api.abuse import require_verified
from api.deps import CurrentUser, KitDep, SettingsDep
from api.schemas import Me
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
