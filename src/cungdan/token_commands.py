"""``cungdan token create|list|revoke`` and the demo tokens of ``cungdan run``.

Tokens are shown once, when created; the tokens file keeps only their hashes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cungdan_contracts import NATION, AdminMap, load_gazetteer
from cungdan_service.auth import Principal, Role, make_principal
from cungdan_service.tokens import TokenFile

PROVINCE_ROLES = (Role.REPORT, Role.CORRECT, Role.READ)
DEMO_PROVINCES = ("15", "19", "38")
"""The 2025 provinces of the demo's legacy provinces 15, 06, 38 and 19."""
DEMO_NATIONAL = "demo-national"


@dataclass(frozen=True)
class IssuedToken:
    principal: Principal
    secret: str


def issue(tokens: TokenFile, name: str, provinces: Sequence[str],
          roles: Sequence[str]) -> IssuedToken:
    """Validate and store a new token; raises ValueError for a bad name, province or role."""
    principal = make_principal(name, provinces, roles)
    secret = tokens.add(name, tuple(sorted(principal.provinces)),
                        tuple(sorted(principal.roles)))
    return IssuedToken(principal, secret)


def describe(principal: Principal) -> str:
    gazetteer = load_gazetteer()
    if principal.national:
        where = "the whole nation"
    else:
        names = [f"{(loc.name if (loc := gazetteer.get(AdminMap.Y2025, p)) else p)} {p}"
                 for p in sorted(principal.provinces)]
        where = ", ".join(names) + " (legacy " + ", ".join(sorted(principal.legacy_provinces)) + ")"
    return f"{where}; roles {', '.join(sorted(principal.roles))}"


def issue_demo_tokens(tokens: TokenFile) -> list[IssuedToken]:
    """Fresh demo tokens, one per demo province and a national admin (old ones revoked)."""
    wanted: list[tuple[str, tuple[str, ...], tuple[Role, ...]]] = [
        (f"demo-{p}", (p,), PROVINCE_ROLES) for p in DEMO_PROVINCES]
    wanted.append((DEMO_NATIONAL, (NATION,), (Role.ADMIN,)))
    issued = []
    for name, provinces, roles in wanted:
        tokens.remove(name)
        issued.append(issue(tokens, name, provinces, roles))
    return issued


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    token = commands.add_parser("token", help="API tokens (kept as hashes in the tokens file)")
    token.add_argument("--file", type=Path, default=None,
                       help="tokens file (default: CUNGDAN_TOKENS_FILE, else DATA_DIR/tokens.json)")
    cmds = token.add_subparsers(dest="action", required=True)
    create = cmds.add_parser("create", help="create a token and print it, once")
    create.add_argument("--name", required=True, help="lowercase name, e.g. lao-cai")
    create.add_argument("--province", action="append", required=True, metavar="CODE",
                        help=f"2025-map province code, or {NATION} for the nation (repeatable)")
    create.add_argument("--role", action="append", choices=[str(r) for r in Role],
                        help="report (default), correct, read, admin (all) (repeatable)")
    cmds.add_parser("list", help="list the tokens (never their secrets)")
    revoke = cmds.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")


def run_command(args: argparse.Namespace, tokens: TokenFile) -> int:
    if args.action == "create":
        try:
            issued = issue(tokens, args.name, args.province, args.role or [Role.REPORT])
        except ValueError as exc:
            print(f"cungdan token create: {exc}", file=sys.stderr)
            return 2
        print(f"created token '{args.name}': {describe(issued.principal)}")
        print(f"its SHA-256 is in {tokens.path}; the token is shown this once:")
        print(issued.secret)
        return 0
    if args.action == "list":
        for record in tokens.read():
            print(f"{record.name:<24} provinces {','.join(record.provinces):<12} "
                  f"roles {','.join(record.roles):<22} created {record.created_at:%Y-%m-%d %H:%M}")
        return 0
    if tokens.remove(args.name):
        print(f"revoked token '{args.name}'")
        return 0
    print(f"cungdan token revoke: no token named '{args.name}' in {tokens.path}", file=sys.stderr)
    return 1
