# ruff: noqa: F811 - test_stack's fixtures, imported, are this module's parameters
"""The committee page in a real browser: Debian's chromium driven by Playwright.

The stack and its demo data are test_stack's (its module fixtures, imported). Every
request the browser makes is recorded: none may leave 127.0.0.1. Screenshots (desktop
and 375 px) go to ``var/test-artifacts/committee-page/``; the path is printed.
"""

from __future__ import annotations

import csv
import io
import shutil
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from openpyxl import load_workbook
from tests.e2e.test_stack import demo, ingest, projector, stack  # noqa: F401 - fixtures
from tests.factories import report

from cungdan.client import wait_until_projected
from cungdan.stack import Stack
from cungdan_contracts import INDICATORS

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "committee-page"
LAO_CAI = "15"
MU_CANG_CHAI = "04456"  # a 2025 commune of Lào Cai
FIRST_LOAD_BUDGET = 300 * 1024
LABELS = {i.label_vi: code for code, i in INDICATORS.items()}
PERIOD = "2026-08"  # closed by test_a_closed_period_shows_its_status_and_differences
NCD = "ngay-cuoi-tuan-cung-dan"


@pytest.fixture(scope="module")
def requested() -> list[str]:
    """Every URL the browser asked for, over the whole module."""
    return []


@pytest.fixture(scope="module")
def browser(requested: list[str]) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()
    outside = [url for url in requested if urlsplit(url).hostname != "127.0.0.1"]
    assert requested and not outside, f"requests left 127.0.0.1: {outside}"


@pytest.fixture
def page(browser: Any, requested: list[str]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    opened = context.new_page()
    opened.on("request", lambda r: requested.append(r.url))
    yield opened
    context.close()


def _api(projector: httpx.Client, code: str, **params: str) -> dict[str, Any]:
    response = projector.get(f"/v1/totals/{code}", params={"map": "2025", **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _table(page: Any, name: str) -> list[list[str | None]]:
    """The machine values of a table's cells (``data-v``; text where there is none)."""
    rows: list[list[str | None]] = page.eval_on_selector_all(
        f"#t-{name} tbody tr",
        "rows => rows.map(r => Array.from(r.cells).map("
        "c => c.hasAttribute('data-v') ? c.getAttribute('data-v') : c.textContent.trim()))")
    return rows


def _headings(page: Any, name: str) -> list[str]:
    texts: list[str] = page.eval_on_selector_all(
        f"#t-{name} thead th",
        "cells => cells.map(c => (c.querySelector('button') || c).childNodes[0]"
        ".textContent.trim())")
    return texts


def _decimals(quantities: dict[str, str]) -> dict[str, Decimal]:
    return {code: Decimal(value) for code, value in quantities.items() if Decimal(value)}


def _page_totals(page: Any) -> dict[str, Decimal]:
    return {LABELS[row[0] or ""]: Decimal(row[2] or "0") for row in _table(page, "totals")
            if Decimal(row[2] or "0")}


def test_home_goes_to_the_nation_on_the_2025_map(page: Any, stack: Stack) -> None:
    page.goto(stack.projector_url + "/")
    assert page.url == f"{stack.projector_url}/ui/VN?map=2025"
    assert page.locator("h1").inner_text().startswith("Việt Nam")


def test_a_province_shows_the_apis_numbers(page: Any, stack: Stack,
                                           projector: httpx.Client) -> None:
    page.goto(f"{stack.projector_url}/ui/{LAO_CAI}?map=2025")
    api = _api(projector, LAO_CAI)
    assert page.locator("h1").inner_text().startswith(api["locality"]["name"])
    assert _page_totals(page) == _decimals(api["totals"])
    legacy = {LABELS[r[0] or ""]: Decimal(r[3] or "0") for r in _table(page, "totals")}
    assert {k: v for k, v in legacy.items() if v} == _decimals(api["from_legacy"])
    columns = [LABELS[h] for h in _headings(page, "children")[2:]]
    shown = {(row[0] or None): {c: Decimal(v or "0") for c, v in zip(columns, row[2:],
                                                                      strict=True)}
             for row in _table(page, "children")}
    for child in api["children"]:
        wanted = _decimals(child["totals"])
        assert {k: v for k, v in shown[child["code"]].items() if v} == wanted, child["name"]
    assert page.locator("tr.note").count() == 1  # the unattributed part of legacy reports
    assert "bản đồ hành chính cũ" in page.locator("#legacy-note").inner_text()
    # Vietnamese number style: a thousands dot, a decimal comma
    assert page.locator("#t-totals td.num", has_text=".").count() > 0


def test_drill_down_from_the_nation_to_a_commune(page: Any, stack: Stack) -> None:
    page.goto(f"{stack.projector_url}/ui/VN?map=2025")
    page.locator("#t-children a", has_text="Lào Cai").click()
    page.wait_for_url(f"**/ui/{LAO_CAI}?map=2025")
    page.locator(f"#t-children a[href^='/ui/{MU_CANG_CHAI}?']").click()
    page.wait_for_url(f"**/ui/{MU_CANG_CHAI}?map=2025")
    crumbs = page.locator(".crumbs li").all_inner_texts()
    assert crumbs[0] == "Việt Nam" and "Lào Cai" in crumbs[1] and len(crumbs) == 3
    page.locator(".crumbs a", has_text="Lào Cai").click()
    page.wait_for_url(f"**/ui/{LAO_CAI}?map=2025")


def test_a_new_report_shows_without_a_reload(page: Any, stack: Stack,
                                             ingest: httpx.Client,
                                             projector: httpx.Client) -> None:
    page.goto(f"{stack.projector_url}/ui/{LAO_CAI}?map=2025&indicator=citizen_turns")
    page.evaluate("window.notReloaded = true")
    before = _page_totals(page).get("citizen_turns", Decimal(0))
    posted = ingest.post("/v1/activities", json=report(
        id=str(uuid.uuid4()), locality=MU_CANG_CHAI, date="2026-11-14",
        measures={"citizen_turns": 1234}))
    assert posted.status_code in (200, 201, 202), posted.text
    seq = int(posted.json()["seq"])
    page.wait_for_function(
        f"Number(document.getElementById('content').dataset.position) >= {seq}",
        timeout=10_000)
    assert page.evaluate("window.notReloaded") is True
    assert _page_totals(page)["citizen_turns"] == before + 1234
    api = _api(projector, LAO_CAI, indicator="citizen_turns")
    assert _page_totals(page) == _decimals(api["totals"])


def test_completeness_panel_matches_the_api(page: Any, stack: Stack,
                                            projector: httpx.Client) -> None:
    page.goto(f"{stack.projector_url}/ui/{LAO_CAI}?map=2025&period=2026")
    answer = projector.get(f"/v1/completeness/{LAO_CAI}",
                           params={"map": "2025", "period": "2026"}).json()
    rows = {r[0]: r for r in _table(page, "completeness")}
    assert len(rows) == answer["children_count"] == len(answer["children"])
    for child in answer["children"]:
        row = rows[child["code"]]
        assert (int(row[2] or 0), row[4] or None, row[5]) == (
            child["reports"], child["last_report"], "1" if child["reported"] else "0")
    summary = page.locator("#completeness-summary").inner_text()
    assert summary.startswith(f"{answer['reported']}/{answer['children_count']} ")
    assert answer["reported"] >= 1  # the demo's reports since the reform


def test_sorting_by_keyboard(page: Any, stack: Stack) -> None:
    page.goto(f"{stack.projector_url}/ui/{LAO_CAI}?map=2025&indicator=citizen_turns")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    header = page.locator("#t-children thead button[data-num]").first
    header.focus()
    page.keyboard.press("Enter")
    assert page.locator("#t-children thead th").nth(2).get_attribute("aria-sort") == \
        "descending"
    values = [Decimal(r[2] or "0") for r in _table(page, "children")]
    assert values == sorted(values, reverse=True) and values[0] > 0


def test_exports_carry_the_pages_numbers(page: Any, stack: Stack,
                                         projector: httpx.Client) -> None:
    page.goto(f"{stack.projector_url}/ui/{LAO_CAI}?map=2025")
    shown = _table(page, "children")
    links = page.locator("#h-children ~ .exports a")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    csv_url, xlsx_url = (next(h for h in hrefs if h and f"/children.{ext}?" in h)
                         for ext in ("csv", "xlsx"))
    text = projector.get(csv_url).content.decode("utf-8-sig")
    csv_rows = list(csv.reader(io.StringIO(text)))[1:]
    assert [r[0] for r in csv_rows] == [r[0] for r in shown]
    assert [r[2:] for r in csv_rows] == [r[2:] for r in shown]
    sheet = load_workbook(io.BytesIO(projector.get(xlsx_url).content)).active
    assert sheet is not None
    xlsx_rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [[Decimal(str(v)) for v in r[2:]] for r in xlsx_rows] == [
        [Decimal(v or "0") for v in r[2:]] for r in shown]


def test_bad_parameters_get_problem_details(projector: httpx.Client) -> None:
    for path, field in (("/ui/15?period=2025-13", "period"), ("/ui/15?from=tomorrow", "from"),
                        ("/ui/15?indicator=nope", "indicator"),
                        ("/v1/completeness/15?period=x", "period"),
                        ("/ui/15/nope.csv", "table")):
        response = projector.get(path)
        assert response.status_code in (404, 422), path
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"] == field
    assert projector.get("/ui/99999").status_code == 404


def _export_rows(projector: httpx.Client, page: Any, name: str) -> tuple[Any, Any]:
    """The CSV rows (header left out) and the XLSX rows of a table's export links."""
    links = page.locator(f"#h-{name} ~ .exports a")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    csv_url, xlsx_url = (next(h for h in hrefs if h and f"/{name}.{ext}?" in h)
                         for ext in ("csv", "xlsx"))
    text = projector.get(csv_url).content.decode("utf-8-sig")
    sheet = load_workbook(io.BytesIO(projector.get(xlsx_url).content)).active
    assert sheet is not None
    return (list(csv.reader(io.StringIO(text)))[1:],
            list(sheet.iter_rows(min_row=2, values_only=True)))


def _screenshots(browser: Any, url: str, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for device, width in (("desktop", 1280), ("phone", 375)):
        context = browser.new_context(viewport={"width": width, "height": 800})
        shot = context.new_page()
        shot.goto(url, wait_until="load")
        assert shot.evaluate("document.documentElement.scrollWidth") <= width
        path = ARTIFACTS / f"{name}-{device}.png"
        shot.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        context.close()


def test_a_closed_period_shows_its_status_and_differences(
        page: Any, browser: Any, stack: Stack, ingest: httpx.Client,
        projector: httpx.Client) -> None:
    posted = ingest.post("/v1/activities", json=report(
        locality=MU_CANG_CHAI, date=f"{PERIOD}-10",
        measures={"citizen_turns": 321, "road_km": "2.5"}))
    assert posted.status_code == 202, posted.text
    wait_until_projected(stack.projector_url, int(posted.json()["seq"]))
    view = f"{stack.projector_url}/ui/{LAO_CAI}?map=2025&period={PERIOD}"
    page.goto(view)
    assert page.locator("#period-status").inner_text().startswith("Đang mở")
    assert page.locator("#as-closed-link").count() == 0
    assert page.locator("#t-differences").count() == 0

    base = f"/v1/periods/{LAO_CAI}/{PERIOD}"
    closed = ingest.post(f"{base}/close", params={"map": "2025"},
                         json={"reason": "Đủ báo cáo tháng 8"})
    assert closed.status_code == 202, closed.text
    wait_until_projected(stack.projector_url, int(closed.json()["seq"]))
    page.goto(view)  # closed, no control totals yet: the status, no table
    assert page.locator("#period-status").inner_text().startswith("Đã khóa (lần 1)")
    assert page.locator("#t-differences").count() == 0
    control = ingest.post(f"{base}/control-totals", params={"map": "2025"}, json={
        "campaign": NCD, "measures": {"citizen_turns": 1000, "road_km": "3.25"}})
    assert control.status_code == 202, control.text
    wait_until_projected(stack.projector_url, int(control.json()["seq"]))

    page.goto(view)
    status = page.locator("#period-status").inner_text()
    assert status.startswith("Đã khóa (lần 1)") and "không có sửa đổi muộn" in status
    assert "Đủ báo cáo tháng 8" in page.locator(".period .history").inner_text()
    detail = projector.get(base, params={"map": "2025"}).json()
    assert detail["status"] == "closed" and detail["late_amendments"] == 0
    wanted = {(c["campaign"], r["indicator"]): [Decimal(r[k]) for k in
                                                ("projected", "province", "difference")]
              for c in detail["comparisons"] for r in c["indicators"]}
    shown = _table(page, "differences")
    assert {(NCD, LABELS[r[1] or ""]): [Decimal(v or "") for v in r[3:]]
            for r in shown} == wanted
    assert wanted[(NCD, "road_km")][1:] == [Decimal("3.25"),
                                            Decimal("3.25") - wanted[(NCD, "road_km")][0]]
    assert page.locator("#t-differences td.num", has_text="3,25").count() == 1  # vi style
    csv_rows, xlsx_rows = _export_rows(projector, page, "differences")
    assert [[Decimal(v) for v in r[3:]] for r in csv_rows] == [
        [Decimal(v or "") for v in r[3:]] for r in shown]
    assert [[Decimal(str(v)) for v in r[3:]] for r in xlsx_rows] == [
        [Decimal(v or "") for v in r[3:]] for r in shown]

    page.goto(f"{stack.projector_url}/ui/{LAO_CAI}?map=2025")  # the province's periods
    entry = page.locator("#periods a", has_text=PERIOD)
    entry.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/ui/{LAO_CAI}?map=2025&period={PERIOD}")
    page.locator("#as-closed-link").click()
    page.wait_for_url("**as_closed=true")
    assert page.locator("#period-shown").inner_text().startswith("Số liệu khi khóa lần 1")
    as_closed = _api(projector, LAO_CAI, period=PERIOD, as_closed="true")
    assert _page_totals(page) == _decimals(as_closed["totals"])
    assert _page_totals(page)["citizen_turns"] >= 321
    kids = {r[0]: r for r in _table(page, "children")}
    columns = [LABELS[h] for h in _headings(page, "children")[2:]]
    for child in as_closed["children"]:
        got = {c: Decimal(v or "0") for c, v in zip(columns, kids[child["code"]][2:],
                                                    strict=True)}
        assert {k: v for k, v in got.items() if v} == _decimals(child["totals"])
    page.locator(f"#t-children a[href^='/ui/{MU_CANG_CHAI}?']").click()  # as closed below
    page.wait_for_url(f"**/ui/{MU_CANG_CHAI}?*as_closed=true*")
    commune = _api(projector, MU_CANG_CHAI, period=PERIOD, as_closed="true")
    assert _page_totals(page) == _decimals(commune["totals"])
    assert page.locator("#period-status").inner_text().startswith("Đã khóa (lần 1)")
    page.locator("#live-link").click()
    page.wait_for_url(f"**/ui/{MU_CANG_CHAI}?map=2025&period={PERIOD}")
    never = projector.get(f"/ui/{LAO_CAI}", params={"map": "2025", "period": "2026-01",
                                                    "as_closed": "true"})
    assert never.status_code == 404 and never.json()["type"].endswith("not-closed")
    _screenshots(browser, f"{view}", "lao-cai-closed-period")
    _screenshots(browser, f"{view}&as_closed=true", "lao-cai-as-closed")


def test_first_load_is_light_and_fits_a_phone(browser: Any, stack: Stack,
                                              requested: list[str]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, width in (("desktop", 1280), ("phone", 375)):
        context = browser.new_context(viewport={"width": width, "height": 800})
        shot = context.new_page()
        finished: list[Any] = []
        shot.on("request", lambda r: requested.append(r.url))
        shot.on("requestfinished", lambda r, into=finished: into.append(r))
        shot.goto(f"{stack.projector_url}/ui/{LAO_CAI}?map=2025", wait_until="load")
        sizes = [r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"]
                 for r in list(finished)]
        assert 0 < sum(sizes) <= FIRST_LOAD_BUDGET, sizes
        assert shot.evaluate("document.documentElement.scrollWidth") <= width
        path = ARTIFACTS / f"lao-cai-2025-{name}.png"
        shot.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path} (first load {sum(sizes)} bytes)")
        context.close()
