"""The API permission matrix: each token (role x province) x each action, own and other
province, in both maps, on the real processes (nats-server, ingest, projector) with
authentication on and private reads.

A 2025 province covers the legacy provinces merged into it: Lào Cai 15 covers legacy
Yên Bái 15 and legacy Lào Cai 10; Thái Nguyên 19 covers legacy Bắc Kạn 06.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.factories import report_v2 as report
from tests.factories import stack_config

from cungdan.stack import Stack
from cungdan.token_commands import issue
from cungdan_contracts import AdminMap, load_gazetteer
from cungdan_service.tokens import TokenFile

pytestmark = pytest.mark.integration

TOKENS = {  # name: (provinces, roles)
    "lc-report": (("15",), ("report",)),
    "lc-correct": (("15",), ("correct",)),
    "lc-read": (("15",), ("read",)),
    "lc-admin": (("15",), ("admin",)),
    "tn-report": (("19",), ("report",)),
    "vn-admin": (("VN",), ("admin",)),
    "revoked": (("VN",), ("admin",)),
}

# 202: accepted. 403s: outside the token's provinces. 403r: the token lacks the role.
# BATCH holds [Yên Bái 2023, Bắc Kạn 2023]: A accepted, S refused as out of scope.
MATRIX = """
token       LC2025 YB2023 LC2023 TN2025 BK2023 NATION BATCH READ15 READ19 LOCALITY
lc-report   202    202    202    403s   403s   403s   A,S   403r   403r   403r
lc-correct  403r   403r   403r   403r   403r   403r   403r  403r   403r   403r
lc-read     403r   403r   403r   403r   403r   403r   403r  200    200    200
lc-admin    202    202    202    403s   403s   403s   A,S   200    200    200
tn-report   403s   403s   403s   202    202    403s   S,A   403r   403r   403r
vn-admin    202    202    202    202    202    202    A,A   200    200    200
(none)      401    401    401    401    401    401    401   401    401    401
(unknown)   401    401    401    401    401    401    401   401    401    401
revoked     401    401    401    401    401    401    401   401    401    401
"""


def _cases() -> list[tuple[str, str, str]]:
    header, *rows = (line.split() for line in MATRIX.strip().splitlines())
    return [(row[0], action, expected)
            for row in rows for action, expected in zip(header[1:], row[1:], strict=True)]


CASES = _cases()


@dataclass
class Ledger:
    """What the tests had the stack store and refuse, to check against its stream and its
    metrics: one per stack, whatever order the tests run in."""

    stored: list[int] = field(default_factory=list)
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)


def _legacy_lao_cai_commune() -> str:
    gazetteer = load_gazetteer()
    district = gazetteer.children(AdminMap.LEGACY, "10")[0]
    return gazetteer.children(AdminMap.LEGACY, district.code)[0].code


LC2023 = _legacy_lao_cai_commune()
REPORTS = {  # action: (locality, date)
    "LC2025": ("04492", "2025-08-02"),  # Púng Luông, Lào Cai 15 (2025)
    "YB2023": ("04495", "2023-05-06"),  # Nậm Khắt, Mù Cang Chải, Yên Bái 15 (legacy)
    "LC2023": (LC2023, "2023-05-06"),  # a commune of legacy Lào Cai 10
    "TN2025": ("01894", "2025-08-02"),  # Phúc Lộc, Thái Nguyên 19 (2025)
    "BK2023": ("01894", "2023-05-06"),  # Phúc Lộc, Ba Bể, Bắc Kạn 06 (legacy)
    "NATION": ("VN", "2023-05-06"),
}
READS = {"READ15": "/v1/totals/15?map=2025", "READ19": "/v1/totals/19?map=2025",
         "LOCALITY": "/v1/localities/19?map=legacy"}


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> TokenFile:
    return TokenFile(tmp_path_factory.mktemp("auth") / "tokens.json")


@pytest.fixture(scope="module")
def secrets(tokens: TokenFile) -> dict[str, str]:
    issued = {name: issue(tokens, name, p, r).secret for name, (p, r) in TOKENS.items()}
    return {**issued, "(unknown)": "cdn_" + "x" * 43}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, tokens: TokenFile,
          secrets: dict[str, str]) -> Iterator[Stack]:
    config = stack_config(
        tmp_path_factory.mktemp("stack"), tokens_file=tokens.path,
        extra_env={"CUNGDAN_READS_PUBLIC": "false", "CUNGDAN_RATE_LIMIT_BURST": "1000"})
    with Stack(config) as running:
        assert tokens.remove("revoked")  # while the services run: takes effect at once
        yield running


@pytest.fixture(scope="module")
def ledger(stack: Stack) -> Ledger:
    return Ledger()


def _request(stack: Stack, action: str) -> tuple[str, str, Any]:
    if action in READS:
        return "GET", stack.projector_url + READS[action], None
    if action == "BATCH":
        body = [_report("YB2023"), _report("BK2023")]
        return "POST", stack.ingest_url + "/v1/activities/batch", body
    return "POST", stack.ingest_url + "/v1/activities", _report(action)


def _report(action: str) -> dict[str, Any]:
    locality, date = REPORTS[action]
    return report(id=str(uuid.uuid4()), locality=locality, date=date)


@pytest.mark.parametrize(("token", "action", "expected"), CASES,
                         ids=[f"{t}-{a}" for t, a, _ in CASES])
def test_permission_matrix(stack: Stack, ledger: Ledger, secrets: dict[str, str], token: str,
                           action: str, expected: str) -> None:
    headers = {} if token == "(none)" else {"Authorization": f"Bearer {secrets[token]}"}
    method, url, body = _request(stack, action)
    response = httpx.request(method, url, json=body, headers=headers, timeout=10,
                             trust_env=False)
    label = token if token in TOKENS and token != "revoked" else \
        "(none)" if token == "(none)" else "(unknown)"
    if "," in expected:  # a batch: one result per item
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert [_item_code(r) for r in results] == expected.split(","), results
        ledger.stored.extend(r["seq"] for r in results if r["status"] == "accepted")
        ledger.refused[(label, "out-of-scope")] += expected.split(",").count("S")
        return
    status = int(expected[:3])
    assert response.status_code == status, response.text
    if status == 202:
        assert response.json()["status"] == "accepted"
        ledger.stored.append(response.json()["seq"])
        return
    if status == 200:
        return
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    reason = {"403s": "out-of-scope", "403r": "missing-role"}.get(
        expected, "missing-token" if token == "(none)" else "unknown-token")
    assert problem["type"] == f"urn:cungdan:problem:{reason}"
    assert problem["detail"]
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    if reason == "out-of-scope":
        assert problem["errors"][0]["field"] == "locality"
        assert f"token '{token}'" in problem["errors"][0]["reason"]
    if url.startswith(stack.ingest_url):
        ledger.refused[(label, reason)] += 1


def _item_code(result: dict[str, Any]) -> str:
    if result["status"] == "accepted":
        return "A"
    assert result["reason"] == "out-of-scope" and result["errors"][0]["field"] == "locality"
    return "S"


def test_the_stream_holds_exactly_the_accepted_reports(stack: Stack, ledger: Ledger) -> None:
    jsz = httpx.get(f"http://127.0.0.1:{stack.nats.http_port}/jsz?streams=true",
                    trust_env=False).json()
    streams = [s for a in jsz.get("account_details", []) for s in a.get("stream_detail", [])
               if s["name"] == "CUNGDAN_ACTIVITY"]
    messages = streams[0]["state"]["messages"] if streams else 0
    assert messages == len(ledger.stored) == len(set(ledger.stored))


def test_a_revoked_token_stops_working_at_once(stack: Stack, ledger: Ledger,
                                               tokens: TokenFile) -> None:
    secret = issue(tokens, "short-lived", ("15",), ("report",)).secret
    headers = {"Authorization": f"Bearer {secret}"}
    url = stack.ingest_url + "/v1/activities"
    first = httpx.post(url, json=_report("YB2023"), headers=headers, trust_env=False)
    assert first.status_code == 202, first.text
    ledger.stored.append(first.json()["seq"])
    assert tokens.remove("short-lived")
    again = httpx.post(url, json=_report("YB2023"), headers=headers, trust_env=False)
    assert again.status_code == 401
    ledger.refused[("(unknown)", "unknown-token")] += 1


def test_refusals_are_counted_by_token_and_reason(stack: Stack, ledger: Ledger) -> None:
    text = httpx.get(stack.ingest_url + "/metrics", trust_env=False).text
    counted = {(s.labels["token"], s.labels["reason"]): s.value
               for family in text_string_to_metric_families(text)
               if family.name == "cungdan_ingest_refusals" for s in family.samples
               if s.name.endswith("_total")}
    assert counted == {k: float(v) for k, v in ledger.refused.items() if v}
