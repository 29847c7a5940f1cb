"""Local sign-in (embedded stack only; with the gcp family, Firebase Auth signs users in)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import KitDep, SettingsDep, get_local_tokens
from api.schemas import LocalSignIn, Token
from api.tokens import LocalTokens
from singer_tasks.jobs.transitions import ensure_user

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post("/local", response_model=Token)
def local_sign_in(
    body: LocalSignIn, kit: KitDep, settings: SettingsDep, tokens: Annotated[LocalTokens, Depends(get_local_tokens)]
) -> Token:
    """A bearer token for `uid`, creating the user with the starting balance on first sign-in."""
    ensure_user(kit.documents, body.uid, settings)
    token, expires_at = tokens.issue(body.uid)
    return Token(token=token, uid=body.uid, expires_at=expires_at)
