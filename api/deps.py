"""Dependencies shared by the routes: the kit, the settings and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api.tokens import Caller, LocalTokens, Unauthenticated, Verifier
from singer_tasks.settings import SingerSettings
from taskkit import Kit


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def get_kit(request: Request) -> Kit:
    kit: Kit = request.app.state.kit
    return kit


def get_settings(request: Request) -> SingerSettings:
    settings: SingerSettings = request.app.state.service_settings
    return settings


def get_local_tokens(request: Request) -> LocalTokens:
    tokens: LocalTokens | None = request.app.state.local_tokens
    if tokens is None:
        raise HTTPException(404, "local sign-in exists only on the embedded stack")
    return tokens


def current_user(request: Request) -> Caller:
    verify: Verifier = request.app.state.verify_token
    token = bearer_token(request.headers.get("authorization")) or request.query_params.get("access_token")
    try:
        return verify(token)
    except Unauthenticated as e:
        raise HTTPException(401, str(e), headers={"WWW-Authenticate": "Bearer"}) from e


KitDep = Annotated[Kit, Depends(get_kit)]
SettingsDep = Annotated[SingerSettings, Depends(get_settings)]
CurrentUser = Annotated[Caller, Depends(current_user)]
