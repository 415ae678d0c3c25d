"""Who is asking: the API key in `Authorization: Bearer <key>` (or `X-API-Key`) names the owner
of every job a request touches. Without auth (loopback only) everyone is the one local owner."""

from __future__ import annotations

from fastapi import HTTPException, Request

from minisora.server.keys import find_key

LOCAL_OWNER = "local"


def request_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or None


def require_owner(request: Request) -> str:
    """FastAPI dependency: the owner id of the request, or 401 saying how to get a key."""
    service = request.app.state.service
    if not service.config.auth:
        return LOCAL_OWNER
    key = request_key(request)
    if key is None:
        raise HTTPException(401, "an API key is required: send 'Authorization: Bearer <key>'; make a key "
                                 "with `minisora keys create NAME --data DIR`",
                            headers={"WWW-Authenticate": "Bearer"})
    owner = find_key(service.store.db, key)
    if owner is None:
        raise HTTPException(401, "this API key is unknown; check it, or make one with `minisora keys create NAME`",
                            headers={"WWW-Authenticate": "Bearer"})
    return owner
