"""Dependencies shared by the routes: the kit, the settings and the caller.

The caller is identified by the `Authorization: Bearer` header only; a token in the URL is never
accepted (the event stream takes a short-lived ticket instead, see `api.routes.events`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from api.abuse import require_verified
from api.edge import caller_from_state
from api.tokens import Caller, EventTickets, LocalTokens, Unauthenticated, Verifier
from singer_tasks.settings import SingerSettings
from taskkit import Kit
from taskkit.bearer import bearer_token

__all__ = ["bearer_token", "current_user", "trusted_user"]


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


def get_tickets(request: Request) -> EventTickets:
    tickets: EventTickets = request.app.state.event_tickets
    return tickets


def _unauthenticated(e: Unauthenticated) -> HTTPException:
    return HTTPException(401, str(e), headers={"WWW-Authenticate": "Bearer"})


def current_user(request: Request) -> Caller:
    """The caller of the request's bearer token (verified once: the edge may have done it already)."""
    verified = caller_from_state(request.state)
    if isinstance(verified, Caller):
        return verified
    verify: Verifier = request.app.state.verify_token
    try:
        return verify(bearer_token(request.headers.get("authorization")))
    except Unauthenticated as e:
        raise _unauthenticated(e) from e


async def trusted_user(request: Request) -> Caller:
    """The caller, for routes that spend resources (uploads, job creation): the token is checked for
    revocation (gcp family) and the account must have a verified email or an allowed sign-in provider."""
    verify: Verifier = request.app.state.verify_token
    token = bearer_token(request.headers.get("authorization"))
    try:
        caller = await run_in_threadpool(lambda: verify(token, strict=True))
    except Unauthenticated as e:
        raise _unauthenticated(e) from e
    require_verified(caller, request.app.state.service_settings)
    return caller


KitDep = Annotated[Kit, Depends(get_kit)]
SettingsDep = Annotated[SingerSettings, Depends(get_settings)]
CurrentUser = Annotated[Caller, Depends(current_user)]
TrustedUser = Annotated[Caller, Depends(trusted_user)]
TicketsDep = Annotated[EventTickets, Depends(get_tickets)]
