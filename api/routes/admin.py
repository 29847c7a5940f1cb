"""Operator routes: admin-only (the token's custom claim `admin: true` on the gcp family; on the local
family, a uid listed in SINGER_ADMIN_UIDS). Everyone else gets 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path

from api.deps import KitDep, SettingsDep, TrustedUser
from api.schemas import CreditGrant, CreditGrantResult, LedgerEntry, Problem
from api.tokens import Caller
from singer_tasks.jobs.ledger import AccountNotFound, grant_credits
from singer_tasks.settings import SingerSettings
from taskkit import Kit

router = APIRouter(prefix="/v1/admin", tags=["admin"])

Uid = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,128}$", description="a user's uid")]


def is_admin(caller: Caller, kit: Kit, settings: SingerSettings) -> bool:
    """Whether the caller may use the operator routes."""
    if caller.admin:
        return True
    return kit.settings.backend == "local" and caller.uid in settings.admin_uids


def admin_user(user: TrustedUser, kit: KitDep, settings: SettingsDep) -> Caller:
    """The caller, if an admin (the token checked for revocation); 403 otherwise."""
    if not is_admin(user, kit, settings):
        raise HTTPException(403, "this route is for operators only")
    return user


AdminUser = Annotated[Caller, Depends(admin_user)]


@router.post(
    "/users/{uid}/credits",
    response_model=CreditGrantResult,
    responses={403: {"model": Problem}, 404: {"model": Problem}, 422: {"model": Problem}},
)
def grant(uid: Uid, body: CreditGrant, admin: AdminUser, kit: KitDep) -> CreditGrantResult:
    """Grant credits to a user (a negative amount debits), with a ledger entry naming the operator."""
    if body.amount == 0:
        raise HTTPException(422, "amount must not be zero")
    try:
        posted = grant_credits(
            kit.documents, uid, body.amount, reason=body.reason, actor=f"admin:{admin.uid}", grant_id=body.request_id
        )
    except AccountNotFound as e:
        raise HTTPException(404, f"no user {uid}") from e
    return CreditGrantResult(
        uid=uid,
        balance=posted.user.credits,
        reserved=posted.user.reserved,
        entry=LedgerEntry.from_entry(posted.entry),
        created=posted.created,
    )
