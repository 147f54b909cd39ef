"""Who is calling, and may they: API tokens, roles and province scope.

A token names provinces of the 2025 map (or ``VN``, the whole nation) and roles.
A 2025 province also covers the legacy provinces that merged into it through the
official conversion, and so their districts and communes: Lào Cai 15 covers legacy
Lào Cai 10 and Yên Bái 15; Thái Nguyên 19 covers legacy Bắc Kạn 06 and Thái Nguyên 19.
``admin`` includes every other role.

- :class:`Principal` and :func:`scope_refusal` are pure.
- :class:`Authorizer` turns an ``Authorization: Bearer`` header into a principal,
  comparing hashes in constant time; it re-reads the tokens file when it changes
  (so a revocation takes effect on the next request). It never logs a token.
- :func:`requires` is the FastAPI dependency.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.security import HTTPBearer

from cungdan_contracts import NATION, AdminMap

from .problems import ProblemError
from .provinces import legacy_successors, merged_into, provinces_2025
from .tokens import NAME_PATTERN, TOKEN_PREFIX, TokenFile, TokenRecord, hash_secret

log = logging.getLogger("cungdan.auth")

_MAX_SECRET_LENGTH = 200
_CHALLENGE = 'Bearer realm="cungdan"'
_INVALID = f'{_CHALLENGE}, error="invalid_token"'


class Role(StrEnum):
    REPORT = "report"
    CORRECT = "correct"
    READ = "read"
    APPROVE = "approve"
    """Close a reporting period of the token's provinces, send its control totals."""
    ADMIN = "admin"


class Reason(StrEnum):
    """Why a request was refused: stable codes, used as the metric's ``reason`` label."""

    MISSING_TOKEN = "missing-token"  # noqa: S105 - a reason code
    UNKNOWN_TOKEN = "unknown-token"  # noqa: S105 - a reason code
    MISSING_ROLE = "missing-role"
    OUT_OF_SCOPE = "out-of-scope"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    roles: frozenset[Role]
    provinces: frozenset[str]
    """2025 province codes, or ``{"VN"}`` for the nation."""
    legacy_provinces: frozenset[str]
    """The legacy provinces merged into ``provinces``."""

    @property
    def national(self) -> bool:
        return NATION in self.provinces

    def has(self, role: Role) -> bool:
        return role in self.roles or Role.ADMIN in self.roles

    @property
    def national_admin(self) -> bool:
        """An ``admin`` token of the whole nation (who alone may reopen a period)."""
        return self.national and Role.ADMIN in self.roles

    def covers(self, admin_map: AdminMap, province: str) -> bool:
        """Whether a locality of ``province`` (in ``admin_map``) lies in this token's scope."""
        if self.national:
            return True
        scope = self.provinces if admin_map is AdminMap.Y2025 else self.legacy_provinces
        return province in scope

    def scope_text(self) -> str:
        if self.national:
            return "the whole nation"
        text = "2025 province(s) " + ", ".join(sorted(self.provinces))
        return text + " (legacy " + ", ".join(sorted(self.legacy_provinces)) + ")"


def make_principal(name: str, provinces: Iterable[str], roles: Iterable[str]) -> Principal:
    """A principal from a token's fields; raises ValueError for an unknown province or role."""
    wanted = frozenset(provinces)
    unknown = sorted(wanted - provinces_2025() - {NATION})
    if not wanted or unknown:
        hints = "".join(f"; legacy {c} is part of 2025 province {legacy_successors()[c]}"
                        for c in unknown if c in legacy_successors())
        raise ValueError(f"provinces must be 2025-map province codes or {NATION}; "
                         f"unknown: {', '.join(unknown) or '(none given)'}{hints}")
    if not re.fullmatch(NAME_PATTERN, name):
        raise ValueError(f"a token name is 1-63 characters of a-z, 0-9, '.', '_', '-', "
                         f"starting with a letter or digit; got '{name}'")
    try:
        granted = frozenset(Role(r) for r in roles)
    except ValueError:
        raise ValueError(f"roles must be among {', '.join(Role)}; got {sorted(roles)}") from None
    if not granted:
        raise ValueError("a token needs at least one role")
    return Principal(name, granted, wanted, merged_into(wanted))


def scope_refusal(principal: Principal, role: Role, admin_map: AdminMap,
                  province: str) -> str | None:
    """Why ``principal`` may not act as ``role`` on ``province`` of ``admin_map``;
    ``None`` if it may."""
    if not principal.has(role):
        return f"token '{principal.name}' lacks the '{role}' role"
    if principal.covers(admin_map, province):
        return None
    where = "the nation as a whole" if province == NATION else \
        f"province {province} of the {admin_map.value} map"
    return f"token '{principal.name}' covers {principal.scope_text()}, not {where}"


class Authorizer:
    """Authenticates bearer tokens against a tokens file; ``None`` file = auth disabled."""

    def __init__(self, tokens: TokenFile | None, *, reads_public: bool = False) -> None:
        self._file = tokens
        self.reads_public = reads_public
        self._signature: tuple[int, int, int] | None = None
        self._principals: list[tuple[str, Principal]] = []
        self._loaded = False

    @property
    def enabled(self) -> bool:
        return self._file is not None

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller of a request with this ``Authorization`` header, or a 401 ProblemError."""
        scheme, _, secret = (authorization or "").strip().partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise ProblemError(401, Reason.MISSING_TOKEN, "Authentication required",
                               "send 'Authorization: Bearer <token>'",
                               headers={"WWW-Authenticate": _CHALLENGE})
        principal = self._lookup(secret)
        if principal is None:
            raise ProblemError(401, Reason.UNKNOWN_TOKEN, "Unknown token",
                               "the token is unknown or was revoked", caller="(unknown)",
                               headers={"WWW-Authenticate": _INVALID})
        return principal

    def require(self, principal: Principal, role: Role) -> None:
        if not principal.has(role):
            raise ProblemError(403, Reason.MISSING_ROLE, "Forbidden",
                               f"token '{principal.name}' lacks the '{role}' role",
                               caller=principal.name)

    def _lookup(self, secret: str) -> Principal | None:
        principals = self._current()
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > _MAX_SECRET_LENGTH:
            return None
        digest = hash_secret(secret).encode()
        found: Principal | None = None
        for stored, principal in principals:  # no early exit: same work for every token
            if hmac.compare_digest(digest, stored.encode()):
                found = principal
        return found

    def _current(self) -> list[tuple[str, Principal]]:
        assert self._file is not None
        signature = self._file.signature()
        if self._loaded and signature == self._signature:
            return self._principals
        try:
            self._principals = [(r.hash, _principal_of(r)) for r in self._file.read()]
        except ValueError as exc:  # fail closed: nobody gets in until the file is fixed
            log.error("tokens file %s is invalid, refusing every token: %s", self._file.path, exc)
            self._principals = []
        if signature is None:
            log.warning("tokens file %s does not exist: every token is refused", self._file.path)
        self._signature, self._loaded = signature, True
        return self._principals


def _principal_of(record: TokenRecord) -> Principal:
    try:
        return make_principal(record.name, record.provinces, record.roles)
    except ValueError as exc:
        raise ValueError(f"token '{record.name}': {exc}") from None


def authorizer_from_settings(settings: Any) -> Authorizer:
    """From settings with ``auth_enabled``, ``tokens_file`` and optionally ``reads_public``."""
    if not settings.auth_enabled:
        return Authorizer(None)
    return Authorizer(TokenFile(Path(settings.tokens_file)),
                      reads_public=bool(getattr(settings, "reads_public", False)))


def authorizer_of(app: FastAPI) -> Authorizer:
    """The app's authorizer: ``app.state.authorizer``, else one built (once) from
    ``app.state.settings``."""
    authorizer = getattr(app.state, "authorizer", None)
    if not isinstance(authorizer, Authorizer):
        authorizer = app.state.authorizer = authorizer_from_settings(app.state.settings)
    return authorizer


BEARER = "HTTPBearer"
"""The name of the bearer scheme in the OpenAPI documents."""
BEARER_DESCRIPTION = ("API token (`cungdan token create`), sent as `Authorization: Bearer "
                      "<token>`; needed when authentication is on (reads may be public)")


class RoleRequired(HTTPBearer):
    """A FastAPI dependency: the caller, who must hold ``role``; ``None`` when auth is off
    (or for reads, when reads are public). Refusals are 401/403 ProblemErrors.

    Being FastAPI's bearer scheme, a route depending on it shows the bearer security
    (:data:`BEARER`) in the OpenAPI document."""

    def __init__(self, role: Role) -> None:
        super().__init__(auto_error=False, scheme_name=BEARER, description=BEARER_DESCRIPTION)
        self.role = role

    async def __call__(self, request: Request) -> Principal | None:  # type: ignore[override]
        authorizer = authorizer_of(request.app)
        if not authorizer.enabled or (self.role is Role.READ and authorizer.reads_public):
            return None
        principal = authorizer.authenticate(request.headers.get("authorization"))
        authorizer.require(principal, self.role)
        return principal


def requires(role: Role) -> Callable[[Request], Awaitable[Principal | None]]:
    """A FastAPI dependency: the caller, who must hold ``role`` (:class:`RoleRequired`)."""
    return RoleRequired(role)
