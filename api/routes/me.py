"""The caller's account: balance, reservations, what renders cost."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, KitDep, SettingsDep
from api.schemas import Me
from singer_tasks.jobs.transitions import ensure_user

router = APIRouter(prefix="/v1", tags=["account"])


@router.get("/me", response_model=Me)
def me(user: CurrentUser, kit: KitDep, settings: SettingsDep) -> Me:
    """Balance, credits held by jobs in flight, and the most each render type reserves."""
    doc = ensure_user(kit.documents, user.uid, settings)
    balance, reserved = int(doc["credits"]), int(doc.get("reserved", 0))
    return Me(
        uid=user.uid,
        balance=balance,
        reserved=reserved,
        available=balance - reserved,
        in_flight=int(doc.get("inFlight", 0)),
        plan=str(doc.get("plan", "free")),
        costs={"preview": settings.max_cost("preview"), "final": settings.max_cost("final")},
    )
