"""`Authorization: Bearer <token>` parsing: the one reader of that header (push OIDC, the API's users)."""

from __future__ import annotations


def bearer_token(authorization_header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or None."""
    if not authorization_header:
        return None
    scheme, _, token = authorization_header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
