"""POST /v1/imports on the ingest app with a real nats-server: files written by openpyxl and
LibreOffice-style CSV go in exactly; bad files get a clear problem and store nothing; the
token's provinces apply per row; dry_run stores nothing; re-imports are duplicates; rows
are counted in metrics; the templates."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client
from openpyxl import Workbook, load_workbook
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import NatsConnect
from tests.waits import until

from cungdan.processes import NatsServer
from cungdan.token_commands import issue
from cungdan_contracts import ActivityLogged, decode_event
from cungdan_contracts.subjects import STREAM
from cungdan_ingest.app import create_app
from cungdan_ingest.import_upload import XLSX
from cungdan_ingest.imports_http import ImportSettings
from cungdan_ingest.settings import IngestSettings
from cungdan_service.tokens import TokenFile

pytestmark = pytest.mark.integration

HEADER = ["campaign", "locality", "date", "unit", "village", "road_km", "workdays",
          "houses_repaired"]
YEN_BAI = ["ngay-cuoi-tuan-cung-dan", "04495", "2023-06-30", "Ban CHQS huyện", None, 6, 500,
           None]  # Nậm Khắt, Mù Cang Chải: legacy Yên Bái, 2025 Lào Cai (15)
BAC_KAN = ["dan-van-kheo", "01894", "2023-03-04", "Chi bộ Văn phòng Huyện ủy", "Khuổi Tẩu",
           None, 40, None]  # Phúc Lộc: legacy Bắc Kạn, 2025 Thái Nguyên (19)
THANH_HOA = ["dan-van-kheo", "14836", "2023-04-15", "Khối dân vận phường", None, 2, None,
             1]  # Trường Sơn, Sầm Sơn: Thanh Hóa (38)


class Ingest:
    def __init__(self, client: httpx.AsyncClient, nc: Client, secrets: dict[str, str],
                 app: FastAPI) -> None:
        self.client, self.nc, self.secrets, self.app = client, nc, secrets, app

    async def post(self, body: bytes, content_type: str = "text/csv", token: str = "nation",  # noqa: S107 - a token name
                   **params: Any) -> httpx.Response:
        return await self.client.post(
            "/v1/imports", content=body, params=params, headers={
                "content-type": content_type,
                "authorization": f"Bearer {self.secrets[token]}"})

    async def close_period(self, province: str, period: str) -> None:
        """Close the period and wait until ingest's index of closings holds it."""
        closed = await self.client.post(
            f"/v1/periods/{province}/{period}/close", json={"reason": "sent"},
            headers={"authorization": f"Bearer {self.secrets['approver']}"})
        assert closed.status_code == 202, closed.text
        seq = closed.json()["seq"]
        await until(lambda: self.app.state.closures.position >= seq, "ingest knows the close")

    async def stored(self) -> int:
        return int((await self.nc.jetstream().stream_info(STREAM)).state.messages)

    async def event(self, seq: int) -> ActivityLogged:
        msg = await self.nc.jetstream().get_msg(STREAM, seq, direct=True)
        event = decode_event(msg.data or b"")
        assert isinstance(event, ActivityLogged)
        return event

    async def metric(self, name: str, **labels: str) -> float:
        text = (await self.client.get("/metrics")).text
        return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
                   if s.name == name and labels.items() <= s.labels.items())


@pytest.fixture
async def ingest(nats_server: NatsServer, nats_connect: NatsConnect,
                 tmp_path: Path) -> AsyncIterator[Ingest]:
    tokens = TokenFile(tmp_path / "tokens.json")
    secrets = {"nation": issue(tokens, "nation", ("VN",), ("report",)).secret,
               "lao-cai": issue(tokens, "lao-cai", ("15",), ("report",)).secret,
               "approver": issue(tokens, "approver", ("VN",), ("approve",)).secret}
    settings = IngestSettings(nats_url=nats_server.url, auth_enabled=True,
                              tokens_file=tokens.path, rate_limit_per_second=1000,
                              rate_limit_burst=1000)
    app = create_app(settings, registry=CollectorRegistry())
    app.state.import_settings = ImportSettings(import_chunk_rows=2)  # chunks in small files
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest",
            timeout=60) as client:
        yield Ingest(client, await nats_connect(), secrets, app)


def xlsx(*table: list[Any], merge: str | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for line in table:
        sheet.append(line)
    if merge:
        sheet.merge_cells(merge)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def libreoffice_csv(*table: list[Any]) -> bytes:
    """As LibreOffice Calc saves CSV in a Vietnamese locale: BOM, ';', CRLF, '1,5'."""
    lines = [";".join("" if c is None else str(c).replace(".", ",") if isinstance(c, float)
                      else str(c) for c in line) for line in table]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


def problem_of(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:cungdan:problem:{kind}" and body["detail"], body
    return body


async def test_an_openpyxl_file_is_imported_exactly(ingest: Ingest) -> None:
    body = xlsx(HEADER, [*YEN_BAI[:2], dt.date(2023, 6, 30), *YEN_BAI[3:5], 0.1, 500, None],
                [*BAC_KAN[:2], "04/03/2023", *BAC_KAN[3:]],
                [*THANH_HOA[:5], 2.125, None, 3])
    answer = await ingest.post(body, XLSX)
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert summary["counts"] == {"rows": 3, "accepted": 3, "duplicate": 0, "conflict": 0,
                                 "rejected": 0, "out_of_scope": 0}
    assert (summary["rows"], summary["format"], summary["dry_run"]) == ([], "xlsx", False)
    events = [await ingest.event(seq) for seq in (1, 2, 3)]
    assert [(e.activity.locality, e.activity.date, dict(e.activity.measures)) for e in events] \
        == [("04495", dt.date(2023, 6, 30), {"road_km": Decimal("0.1"), "workdays": 500}),
            ("01894", dt.date(2023, 3, 4), {"workdays": 40}),
            ("14836", dt.date(2023, 4, 15), {"road_km": Decimal("2.125"),
                                             "houses_repaired": 3})]
    assert b'"road_km":"0.1"' in (await ingest.nc.jetstream().get_msg(
        STREAM, 1, direct=True)).data  # type: ignore[operator]
    assert events[1].activity.village == "Khuổi Tẩu"
    assert events[0].reported_by == "nation"


async def test_a_libreoffice_csv_with_labels_is_imported_and_bad_cells_rejected(
    ingest: Ingest,
) -> None:
    header = ["Phong trào", "Địa bàn", "Ngày", "Đơn vị", "thon", "KM ĐƯỜNG NÔNG THÔN LÀM MỚI, "
              "TU SỬA, BÊ TÔNG", "ngay cong", "Nhà dột nát được sửa chữa (xóa nhà dột nát)"]
    body = libreoffice_csv(
        header,
        ["Ngày cuối tuần cùng dân", "04495", "30/06/2023", "Ban CHQS huyện", "", 1.5, "1.500",
         ""],
        ["dan-van-kheo", "01894", "2023-03-04", "Chi bộ", "", "1.234,5678", "40", ""],
        ["dan-van-kheo", "01894", "2099-01-01", "Chi bộ", "", "", "40", ""],
        ["dan-van-kheo", "01894", "2023-03-05", "Chi bộ", "", "1,5", "12.000.000", "2"])
    answer = await ingest.post(body, "text/csv; charset=utf-8")
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert summary["columns"] == HEADER
    assert summary["counts"] == {"rows": 4, "accepted": 1, "duplicate": 0, "conflict": 0,
                                 "rejected": 3, "out_of_scope": 0}
    assert [(r["row"], r["outcome"], r["column"], r["reason"], r["problem"])
            for r in summary["rows"]] == [
        (2, "rejected", "ngay cong", "'1.500' is ambiguous: 1500 or 1.500? write 1500, or 1.5 "
                                     "for the decimal (or use a number cell)", "bad_number"),
        (3, "rejected", header[5], "road_km takes at most 3 decimal places (unit: km); got "
                                   "1234.5678", "too_precise"),
        (4, "rejected", "Ngày", summary["rows"][2]["reason"], "future_date")]
    assert summary["rows"][2]["reason"].startswith("2099-01-01 is in the future")
    assert await ingest.stored() == 1
    event = await ingest.event(1)
    assert dict(event.activity.measures) == {"road_km": Decimal("1.5"),
                                             "workdays": 12000000, "houses_repaired": 2}
    assert await ingest.metric("cungdan_ingest_import_rows_total", outcome="rejected") == 3
    assert await ingest.metric("cungdan_ingest_rejections_total", reason="bad_number") == 1
    assert await ingest.metric("cungdan_ingest_rejections_total", reason="future_date") == 1


async def test_reimports_count_nothing_twice(ingest: Ingest) -> None:
    first = libreoffice_csv(HEADER, YEN_BAI, BAC_KAN, YEN_BAI)  # a repeated row: one report
    answer = (await ingest.post(first)).json()
    assert answer["counts"] | {"rows": 0} == {"rows": 0, "accepted": 2, "duplicate": 1,
                                              "conflict": 0, "rejected": 0, "out_of_scope": 0}
    assert answer["rows"] == [{"row": 4, "outcome": "duplicate", "column": None,
                               "reason": "the same report as row 2", "problem": "duplicate",
                               "id": answer["rows"][0]["id"], "seq": None}]
    again = (await ingest.post(libreoffice_csv(HEADER, YEN_BAI, BAC_KAN, THANH_HOA))).json()
    assert again["counts"]["accepted"] == 1 and again["counts"]["duplicate"] == 2
    assert {r["row"]: r["seq"] for r in again["rows"]} == {2: 1, 3: 2}
    assert await ingest.stored() == 3
    as_xlsx = await ingest.post(xlsx(HEADER, YEN_BAI), XLSX)  # the same row in another format
    assert as_xlsx.json()["counts"]["duplicate"] == 1 and await ingest.stored() == 3


async def test_rows_with_ids_are_reports_of_their_own(ingest: Ingest) -> None:
    ids = ["0b6f2a52-5d1e-4a8e-9a59-2b8f6f3c1d01", "0b6f2a52-5d1e-4a8e-9a59-2b8f6f3c1d02"]
    body = libreoffice_csv(["id", *HEADER], [ids[0], *YEN_BAI], [ids[1], *YEN_BAI],
                           [ids[1], *BAC_KAN])
    answer = (await ingest.post(body)).json()
    assert answer["counts"]["accepted"] == 2 and answer["counts"]["conflict"] == 1
    assert [(r["outcome"], r["column"], r["reason"]) for r in answer["rows"]] == [
        ("conflict", "id", f"id {ids[1]} is used by row 3 for a different report")]
    assert await ingest.stored() == 2


async def test_a_token_for_one_province_imports_its_rows_only(ingest: Ingest) -> None:
    answer = await ingest.post(libreoffice_csv(HEADER, YEN_BAI, BAC_KAN, THANH_HOA),
                               token="lao-cai")
    summary = answer.json()
    assert summary["counts"] | {"rows": 0} == {"rows": 0, "accepted": 1, "duplicate": 0,
                                               "conflict": 0, "rejected": 2, "out_of_scope": 2}
    assert [(r["row"], r["outcome"], r["problem"], r["column"]) for r in summary["rows"]] == [
        (3, "rejected", "out-of-scope", "locality"), (4, "rejected", "out-of-scope", "locality")]
    assert "token 'lao-cai' covers" in summary["rows"][0]["reason"]
    assert (await ingest.event(1)).activity.locality == "04495"
    assert await ingest.stored() == 1
    assert await ingest.metric("cungdan_ingest_refusals_total", token="lao-cai",
                               reason="out-of-scope") == 2


async def test_dry_run_stores_nothing_and_says_what_would_happen(ingest: Ingest) -> None:
    await ingest.post(libreoffice_csv(HEADER, YEN_BAI))
    before = await ingest.stored()
    body = libreoffice_csv(HEADER, YEN_BAI, BAC_KAN, [*THANH_HOA[:2], "bad", *THANH_HOA[3:]])
    answer = (await ingest.post(body, dry_run="true")).json()
    assert answer["dry_run"] is True
    assert answer["counts"] == {"rows": 3, "accepted": 1, "duplicate": 1, "conflict": 0,
                                "rejected": 1, "out_of_scope": 0}
    assert await ingest.stored() == before
    out = (await ingest.post(body, token="lao-cai", dry_run="true")).json()
    assert out["counts"]["out_of_scope"] == 1 and await ingest.stored() == before
    assert await ingest.metric("cungdan_ingest_import_rows_total", outcome="accepted",
                               dry_run="true") == 1
    assert await ingest.metric("cungdan_ingest_rejections_total") == 0  # only real ones


async def test_a_row_dated_in_a_closed_period_is_rejected(ingest: Ingest) -> None:
    await ingest.close_period("15", "2023-Q2")  # YEN_BAI's row is of 2023-06-30
    before = await ingest.stored()
    body = libreoffice_csv(HEADER, BAC_KAN, YEN_BAI, THANH_HOA)
    for dry_run in ("true", "false"):
        answer = (await ingest.post(body, dry_run=dry_run)).json()
        assert answer["counts"] == {"rows": 3, "accepted": 2, "duplicate": 0, "conflict": 0,
                                    "rejected": 1, "out_of_scope": 0}, answer
        [row] = answer["rows"]
        assert (row["row"], row["outcome"], row["column"], row["problem"]) == (
            3, "rejected", "date", "period_closed")
        assert "period 2023-Q2 was closed" in row["reason"]
    assert await ingest.stored() == before + 2
    assert await ingest.metric("cungdan_ingest_period_closed_refusals_total",
                               kind="report") == 1  # the live import's row, not the dry run's
    assert await ingest.metric("cungdan_ingest_reports_total", outcome="period_closed") == 1
    assert await ingest.metric("cungdan_ingest_import_rows_total", outcome="rejected") == 2


async def test_bad_files_get_a_clear_problem_and_store_nothing(ingest: Ingest) -> None:
    junk = bytes(range(256)) * (20 * 1024 * 1024 // 256)  # 20 MB
    cases = [
        (await ingest.post(b"%PDF-1.4\n%junk", XLSX), 422, "not-xlsx"),
        (await ingest.post(junk, "text/csv"), 422, "not-text"),
        (await ingest.post(junk, XLSX), 422, "not-xlsx"),
        (await ingest.post(xlsx(HEADER, YEN_BAI), "text/csv"), 422, "not-csv"),
        (await ingest.post(b"", "text/csv"), 422, "empty-file"),
        (await ingest.post(libreoffice_csv(HEADER), "text/csv"), 422, "no-rows"),
        (await ingest.post(xlsx(HEADER), XLSX), 422, "no-rows"),
        (await ingest.post(xlsx(HEADER, YEN_BAI, YEN_BAI, merge="A2:A3"), XLSX), 422,
         "merged-cells"),
        (await ingest.post(libreoffice_csv([*HEADER, "houses"], YEN_BAI), "text/csv"), 422,
         "bad-header"),
        (await ingest.post(b"a,b", "application/json"), 415, "unsupported-media-type"),
        (await ingest.post(b"a,b", "application/vnd.ms-excel"), 415, "unsupported-media-type"),
    ]
    for response, status, kind in cases:
        problem_of(response, status, kind)
    assert cases[8][0].json()["errors"] == [{"field": "houses", "reason": "unknown column "
                                             "'houses' (column I): not a column code nor a "
                                             "catalog label (see GET /v1/imports/template.csv)"}]
    assert "A2:A3" in cases[7][0].json()["detail"]
    assert await ingest.stored() == 0
    assert await ingest.metric("cungdan_ingest_imports_total", result="refused") == 9


async def test_a_file_over_the_limit_is_413_declared_or_streamed(ingest: Ingest) -> None:
    ingest.app.state.import_settings = ImportSettings(max_import_bytes=1024)
    body = libreoffice_csv(HEADER, *[YEN_BAI] * 40)
    assert len(body) > 1024

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for start in range(0, len(body), 100):
            yield body[start:start + 100]

    auth = {"authorization": f"Bearer {ingest.secrets['nation']}"}
    answers = [await ingest.post(body),
               await ingest.client.post("/v1/imports", content=streamed(),
                                        headers={**auth, "content-type": "text/csv"}),
               await ingest.client.post("/v1/imports", headers=auth,
                                        files={"file": ("a.csv", body, "text/csv")})]
    assert "content-length" not in answers[1].request.headers
    for answer in answers:
        problem = problem_of(answer, 413, "body-too-large")
        assert problem["detail"] == "an import takes at most 1024 bytes"
    assert await ingest.stored() == 0


async def test_formula_cells_reject_their_rows(ingest: Ingest) -> None:
    body = xlsx(HEADER, YEN_BAI, [*BAC_KAN[:6], "=1+2", None])
    summary = (await ingest.post(body, XLSX)).json()
    assert summary["counts"]["accepted"] == 1 and summary["counts"]["rejected"] == 1
    assert [(r["column"], r["reason"]) for r in summary["rows"]] == [
        ("workdays", "a formula (=1+2): the import reads values; paste the values instead")]
    assert await ingest.stored() == 1


async def test_a_multipart_form_upload(ingest: Ingest) -> None:
    answer = await ingest.client.post(
        "/v1/imports", files={"file": ("bao-cao.xlsx", xlsx(HEADER, YEN_BAI), XLSX)},
        headers={"authorization": f"Bearer {ingest.secrets['nation']}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["counts"]["accepted"] == 1
    plain = await ingest.client.post(
        "/v1/imports", files={"file": ("bao-cao.csv", libreoffice_csv(HEADER, BAC_KAN),
                                       "application/octet-stream")},
        headers={"authorization": f"Bearer {ingest.secrets['nation']}"})
    assert plain.json()["format"] == "csv" and plain.json()["counts"]["accepted"] == 1
    none = await ingest.client.post(
        "/v1/imports", data={"other": "x"}, files={"attachment": ("a.csv", b"x", "text/csv")},
        headers={"authorization": f"Bearer {ingest.secrets['nation']}"})
    problem_of(none, 422, "unreadable-file")


async def test_the_templates(ingest: Ingest) -> None:
    auth = {"authorization": f"Bearer {ingest.secrets['lao-cai']}"}
    answer = await ingest.client.get("/v1/imports/template.xlsx", headers=auth)
    assert answer.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(answer.content))
    sheet = book["Báo cáo"]
    header = [c.value for c in sheet[1]]
    assert header[:8] == ["id", "campaign", "locality", "date", "unit", "unit_kind", "note",
                          "village"] and "houses_repaired" in header
    assert sheet["B2"].value == "phong trào" and sheet["A2"].value.startswith("#")
    assert sheet.cell(3, header.index("road_km") + 1).value == "km, 3 chữ số thập phân"
    rules = sheet.data_validations.dataValidation
    assert any("ngay-cuoi-tuan-cung-dan" in (r.formula1 or "") and "B4" in str(r.sqref)
               for r in rules)
    places = list(book["Địa bàn"].iter_rows(min_row=2, values_only=True))
    assert {p[4] for p in places if p[0] == "2025"} == {"15"}
    assert ("legacy", "04495") in {(p[0], p[1]) for p in places}
    assert "01894" not in {p[1] for p in places}
    # the template, filled in, imports as it is
    sheet.append([None, "dan-van-kheo", "04495", dt.date(2023, 5, 6), "Chi bộ bản"] +
                 [None] * (header.index("workdays") - 5) + [12])
    out = io.BytesIO()
    book.save(out)
    summary = (await ingest.post(out.getvalue(), XLSX, token="lao-cai")).json()
    assert summary["counts"]["accepted"] == 1 and summary["counts"]["rows"] == 1
    csv_template = await ingest.client.get("/v1/imports/template.csv", headers=auth)
    lines = csv_template.text.splitlines()
    assert lines[0].startswith("id,campaign,locality,date,unit") and lines[1].startswith("#")
    filled = csv_template.text + "," + ",".join(["dan-van-kheo", "04495", "2023-05-07",
                                                 "Chi bộ bản"]) + "," * 4 + "2\r\n"
    again = (await ingest.post(filled.encode(), token="lao-cai")).json()
    assert again["counts"]["accepted"] == 1, again


async def test_the_broker_down_is_503_with_the_counts_so_far(
    ingest: Ingest, nats_server: NatsServer,
) -> None:
    nats_server.stop()
    answer = await ingest.post(libreoffice_csv(HEADER, YEN_BAI, BAC_KAN, THANH_HOA))
    body = problem_of(answer, 503, "broker-unavailable")
    assert answer.headers["retry-after"] == "5"
    assert body["counts"]["accepted"] == 0
    assert await ingest.metric("cungdan_ingest_imports_total", result="unavailable") == 1
    nats_server.start()
    await until(lambda: ingest.app.state.journal.connected, "ingest reconnected", within=30)
    again = await ingest.post(libreoffice_csv(HEADER, YEN_BAI, BAC_KAN, THANH_HOA))
    assert again.json()["counts"]["accepted"] == 3  # sending the file again is safe


async def test_an_import_the_broker_fails_partway_is_503_with_the_rows_stored_so_far(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chunks of 2 rows: the first is stored, the broker refuses the second (every event
    NotStored); the answer counts the first chunk's rows, and sending the file again stores
    the rest, each report once."""
    from collections.abc import Sequence

    from cungdan_ingest.journal import AppendResult, NotStored, Outgoing

    journal = ingest.app.state.journal
    append_many = journal.append_many
    calls = 0

    async def second_call_refused(messages: Sequence[Outgoing]) -> list[AppendResult]:
        nonlocal calls
        calls += 1
        if calls == 2:
            return [NotStored("no acknowledgement from JetStream in time")] * len(messages)
        results: list[AppendResult] = await append_many(messages)
        return results

    monkeypatch.setattr(journal, "append_many", second_call_refused)
    table = [YEN_BAI, BAC_KAN, THANH_HOA, [*YEN_BAI[:2], "2023-06-29", *YEN_BAI[3:]],
             [*BAC_KAN[:3], "Chi bộ Khuổi Tẩu", *BAC_KAN[4:]]]
    body = libreoffice_csv(HEADER, *table)
    answer = await ingest.post(body)
    problem = problem_of(answer, 503, "broker-unavailable")
    assert answer.headers["retry-after"] == "5"
    assert problem["detail"] == "no acknowledgement from JetStream in time"
    assert problem["counts"] == {"rows": 2, "accepted": 2, "duplicate": 0, "conflict": 0,
                                 "rejected": 0, "out_of_scope": 0}
    assert calls == 2  # the import stopped at the refused chunk
    assert await ingest.stored() == 2
    first = [(await ingest.event(seq)).activity for seq in (1, 2)]
    assert [a.locality for a in first] == ["04495", "01894"]
    again = await ingest.post(body)
    assert again.status_code == 200, again.text
    assert again.json()["counts"] | {"rows": 0} == {"rows": 0, "accepted": 3, "duplicate": 2,
                                                    "conflict": 0, "rejected": 0,
                                                    "out_of_scope": 0}
    assert await ingest.stored() == 5
    stored = [(await ingest.event(seq)).activity for seq in range(1, 6)]
    assert len({a.id for a in stored}) == 5
    assert sorted((a.locality, str(a.date), a.unit.name) for a in stored) == sorted(
        (row[1], row[2], row[3]) for row in table)


async def test_a_dry_run_with_the_broker_down_is_503_and_stores_nothing(
    ingest: Ingest, nats_server: NatsServer,
) -> None:
    assert (await ingest.post(libreoffice_csv(HEADER, YEN_BAI))).status_code == 200
    nats_server.stop()
    answer = await ingest.post(libreoffice_csv(HEADER, YEN_BAI, BAC_KAN, THANH_HOA),
                               dry_run="true")
    problem = problem_of(answer, 503, "broker-unavailable")
    assert answer.headers["retry-after"] == "5"
    assert problem["detail"].startswith("could not look for ")
    assert problem["counts"]["accepted"] == problem["counts"]["duplicate"] == 0
    assert await ingest.metric("cungdan_ingest_imports_total", result="unavailable") == 1
    nats_server.start()
    await until(lambda: ingest.app.state.journal.connected, "ingest reconnected", within=30)
    assert await ingest.stored() == 1
    dry = (await ingest.post(libreoffice_csv(HEADER, YEN_BAI, BAC_KAN, THANH_HOA),
                             dry_run="true")).json()
    assert (dry["counts"]["duplicate"], dry["counts"]["accepted"]) == (1, 2)
    assert await ingest.stored() == 1
