"""Tokens, principals and scope: the pure parts and the tokens file."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from cungdan_contracts import AdminMap
from cungdan_service.auth import (
    Authorizer,
    Principal,
    Role,
    make_principal,
    scope_refusal,
)
from cungdan_service.problems import ProblemError
from cungdan_service.provinces import legacy_successors, merged_into, provinces_2025
from cungdan_service.tokens import TokenFile, hash_secret

LEGACY, Y2025 = AdminMap.LEGACY, AdminMap.Y2025


# --- the official conversion ----------------------------------------------------------------


def test_every_legacy_province_has_one_2025_successor() -> None:
    successors = legacy_successors()
    assert len(successors) == 63
    assert len(provinces_2025()) == 34
    assert successors["15"] == "15"  # Yên Bái -> Lào Cai
    assert successors["10"] == "15"  # Lào Cai -> Lào Cai
    assert successors["06"] == "19"  # Bắc Kạn -> Thái Nguyên
    assert successors["38"] == "38"  # Thanh Hóa stays
    assert merged_into(frozenset({"19"})) == {"06", "19"}
    assert merged_into(frozenset({"79"})) == {"74", "77", "79"}  # Bình Dương, BR-VT, HCMC


# --- principals and the permission table of roles x actions x provinces ---------------------

ROLES = {r: make_principal(f"lc-{r}", ["15"], [r]) for r in Role}
NATIONAL = make_principal("national", ["VN"], ["report"])

# (map, province) of a report: own = inside Lào Cai 15's scope, other = outside.
OWN = [(Y2025, "15"), (LEGACY, "15"), (LEGACY, "10")]
OTHER = [(Y2025, "19"), (LEGACY, "06"), (LEGACY, "19"), (Y2025, "10"), (Y2025, "VN"),
         (LEGACY, "VN")]


@pytest.mark.parametrize("held", list(Role))
@pytest.mark.parametrize("action", list(Role))
@pytest.mark.parametrize(("where", "own"), [(w, True) for w in OWN] + [(w, False) for w in OTHER])
def test_role_x_action_x_province(held: Role, action: Role, where: tuple[AdminMap, str],
                                  own: bool) -> None:
    principal = ROLES[held]
    allowed = (held is action or held is Role.ADMIN) and own
    reason = scope_refusal(principal, action, *where)
    assert (reason is None) is allowed
    if reason is not None:
        assert f"token 'lc-{held}'" in reason
        assert ("lacks the" in reason) is not (held is action or held is Role.ADMIN)


def test_the_examples_of_the_issue() -> None:
    lao_cai = make_principal("lao-cai", ["15"], ["correct"])
    assert scope_refusal(lao_cai, Role.CORRECT, LEGACY, "15") is None  # a 2023 Yên Bái report
    thai_nguyen = make_principal("thai-nguyen", ["19"], ["report"])
    assert thai_nguyen.legacy_provinces == {"06", "19"}
    assert thai_nguyen.covers(LEGACY, "06") and thai_nguyen.covers(LEGACY, "19")
    assert not thai_nguyen.covers(Y2025, "06")  # 06 means nothing in the 2025 map
    refusal = scope_refusal(thai_nguyen, Role.REPORT, LEGACY, "15")
    assert refusal == ("token 'thai-nguyen' covers 2025 province(s) 19 (legacy 06, 19), "
                       "not province 15 of the legacy map")


def test_a_national_token_covers_everything_including_the_nation() -> None:
    for where in OWN + OTHER:
        assert scope_refusal(NATIONAL, Role.REPORT, *where) is None
    assert "the nation as a whole" in (scope_refusal(ROLES[Role.REPORT], Role.REPORT,
                                                     LEGACY, "VN") or "")


@pytest.mark.parametrize(("provinces", "roles", "message"), [
    (["06"], ["report"], "legacy 06 is part of 2025 province 19"),
    (["99"], ["report"], "unknown: 99"),
    ([], ["report"], "(none given)"),
    (["15"], ["boss"], "roles must be among"),
    (["15"], [], "at least one role"),
])
def test_bad_token_fields_are_refused(provinces: list[str], roles: list[str],
                                      message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_principal("x", provinces, roles)


# --- the tokens file and the authorizer -----------------------------------------------------


@pytest.fixture
def tokens(tmp_path: Path) -> TokenFile:
    return TokenFile(tmp_path / "var" / "tokens.json")


def test_only_a_hash_is_stored_owner_readable(tokens: TokenFile) -> None:
    secret = tokens.add("lao-cai", ("15",), ("report",))
    text = tokens.path.read_text()
    assert secret not in text
    assert json.loads(text)["tokens"][0]["hash"] == hash_secret(secret)
    assert stat.S_IMODE(tokens.path.stat().st_mode) == 0o600
    assert len(secret) > 40 and secret.startswith("cdn_")
    with pytest.raises(ValueError, match="exists"):
        tokens.add("lao-cai", ("15",), ("report",))


def test_authenticate_and_revoke_without_restart(tokens: TokenFile) -> None:
    secret = tokens.add("lao-cai", ("15",), ("report",))
    other = tokens.add("hue", ("46",), ("read",))
    authorizer = Authorizer(tokens)
    principal = authorizer.authenticate(f"Bearer {secret}")
    assert principal == Principal("lao-cai", frozenset({Role.REPORT}), frozenset({"15"}),
                                  frozenset({"10", "15"}))
    assert authorizer.authenticate(f"bearer   {other}").name == "hue"
    assert tokens.remove("lao-cai")
    with pytest.raises(ProblemError) as refused:
        authorizer.authenticate(f"Bearer {secret}")
    assert (refused.value.status, refused.value.reason) == (401, "unknown-token")
    assert authorizer.authenticate(f"Bearer {other}").name == "hue"


@pytest.mark.parametrize(("header", "reason"), [
    (None, "missing-token"), ("", "missing-token"), ("Basic dXNlcjpwdw==", "missing-token"),
    ("Bearer", "missing-token"), ("Bearer cdn_wrong", "unknown-token"),
    ("Bearer " + "x" * 5000, "unknown-token"),
])
def test_what_is_not_a_valid_token(tokens: TokenFile, header: str | None, reason: str) -> None:
    tokens.add("lao-cai", ("15",), ("report",))
    with pytest.raises(ProblemError) as refused:
        Authorizer(tokens).authenticate(header)
    assert (refused.value.status, refused.value.reason) == (401, reason)
    assert (refused.value.headers or {})["WWW-Authenticate"].startswith("Bearer")


def test_a_broken_tokens_file_lets_nobody_in_and_says_why(
    tokens: TokenFile, caplog: pytest.LogCaptureFixture
) -> None:
    secret = tokens.add("lao-cai", ("15",), ("report",))
    authorizer = Authorizer(tokens)
    assert authorizer.authenticate(f"Bearer {secret}").name == "lao-cai"
    tokens.path.write_text(tokens.path.read_text().replace('"15"', '"06"'))
    with caplog.at_level(logging.ERROR), pytest.raises(ProblemError):
        authorizer.authenticate(f"Bearer {secret}")
    assert "invalid" in caplog.text and "legacy 06" in caplog.text
    assert secret not in caplog.text


def test_missing_role_is_403_naming_token_and_role(tokens: TokenFile) -> None:
    secret = tokens.add("reader", ("VN",), ("read",))
    authorizer = Authorizer(tokens)
    principal = authorizer.authenticate(f"Bearer {secret}")
    authorizer.require(principal, Role.READ)
    with pytest.raises(ProblemError) as refused:
        authorizer.require(principal, Role.REPORT)
    assert (refused.value.status, refused.value.reason, refused.value.caller) == (
        403, "missing-role", "reader")
    assert "'report'" in refused.value.detail
