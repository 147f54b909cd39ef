"""The caller of a route that writes: authenticated, holding a role, within its rate limit."""

from __future__ import annotations

from fastapi import Request
from fastapi.security import HTTPBearer

from cungdan_service.auth import BEARER, BEARER_DESCRIPTION, Principal, Role, requires

from .limits import RateLimiter


class RateLimitedCaller(HTTPBearer):
    """A dependency: the authenticated caller holding ``role`` (``None`` with auth off),
    within its token's rate limit.

    One dependency rather than a tree of three (FastAPI solves each one on every request),
    and, being the bearer scheme, it documents itself in the OpenAPI document."""

    def __init__(self, role: Role) -> None:
        super().__init__(auto_error=False, scheme_name=BEARER, description=BEARER_DESCRIPTION)
        self._authenticated = requires(role)

    async def __call__(self, request: Request) -> Principal | None:  # type: ignore[override]
        principal = await self._authenticated(request)
        if principal is not None:
            limiter: RateLimiter = request.app.state.rate_limiter
            limiter.admit(principal.name)
        return principal
