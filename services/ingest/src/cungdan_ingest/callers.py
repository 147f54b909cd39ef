"""The caller of a route that writes: authenticated, holding a role, within its rate limit."""

from __future__ import annotations

from fastapi import Request

from cungdan_service.auth import Principal, RoleRequired

from .limits import RateLimiter


class RateLimitedCaller(RoleRequired):
    """A dependency: the authenticated caller holding ``role`` (``None`` with auth off),
    within its token's rate limit.

    One dependency rather than a tree of three (FastAPI solves each one on every request),
    and, being the bearer scheme, it documents itself in the OpenAPI document."""

    async def __call__(self, request: Request) -> Principal | None:  # type: ignore[override]
        principal = await super().__call__(request)
        if principal is not None:
            limiter: RateLimiter = request.app.state.rate_limiter
            limiter.admit(principal.name)
        return principal
