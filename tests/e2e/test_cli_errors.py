"""The operator command, run as a user runs it (the console script, in a subprocess), never
shows a traceback: an unreachable service, a refused token, a bad argument or setting is
one line on stderr and a non-zero exit. It finds the services through the variables the
services (and `make run`) use: CUNGDAN_PROJECTOR_PORT, CUNGDAN_INGEST_PORT."""

from __future__ import annotations

import csv
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.factories import stack_config

from cungdan.processes import free_port
from cungdan.stack import Stack
from cungdan.token_commands import issue
from cungdan_contracts import NATION
from cungdan_service.auth import Role
from cungdan_service.tokens import TokenFile

pytestmark = pytest.mark.e2e

CUNGDAN = str(Path(sys.executable).parent / "cungdan")

PROJECTOR_COMMANDS = [["status"], ["deadletters", "list"], ["deadletters", "redrive"],
                      ["rebuild"]]
INGEST_COMMANDS = [["demo", "load"], ["import", "{csv}"]]


@dataclass(frozen=True)
class Answer:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class Running:
    stack: Stack
    admin: str
    reporter: str
    """A token with the report role only (no read, no admin)."""
    tmp: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a user of this stack: the ports `make run` was given."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CUNGDAN_") or k == "CUNGDAN_DATA_DIR"}
        return {**env, "CUNGDAN_DATA_DIR": str(self.tmp / "user-data"),
                "CUNGDAN_INGEST_PORT": str(self.stack.config.ingest_port),
                "CUNGDAN_PROJECTOR_PORT": str(self.stack.config.projector_port), **extra}


def cungdan(args: list[str], env: dict[str, str], tmp: Path) -> Answer:
    csv = tmp / "reports.csv"
    if not csv.exists():
        csv.write_text("id,campaign,locality,date,unit,road_km\n")
    done = subprocess.run([CUNGDAN, *(a.format(csv=csv) for a in args)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    return Answer(done.returncode, done.stdout, done.stderr)


def assert_one_line(answer: Answer, *expected: str) -> None:
    assert answer.code != 0, answer
    assert "Traceback" not in answer.out + answer.err, answer.err
    lines = answer.err.strip().splitlines()
    assert len(lines) == 1, answer.err
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("cli")
    tokens = TokenFile(tmp / "tokens.json")
    admin = issue(tokens, "operator", [NATION], [Role.ADMIN]).secret
    reporter = issue(tokens, "lao-cai", ["15"], [Role.REPORT]).secret
    config = stack_config(tmp / "stack", tokens_file=tokens.path,
                          extra_env={"CUNGDAN_READS_PUBLIC": "false"})
    with Stack(config) as stack:
        yield Running(stack, admin, reporter, tmp)


def test_the_services_are_found_through_their_own_port_settings(running: Running) -> None:
    answer = cungdan(["status", "--token", running.admin], running.env(), running.tmp)
    assert answer.code == 0, answer.err
    assert "projector" in answer.out and "freshness" in answer.out


@pytest.mark.parametrize("args", PROJECTOR_COMMANDS + INGEST_COMMANDS, ids=" ".join)
def test_an_unreachable_service_is_one_line(running: Running, args: list[str]) -> None:
    nobody = str(free_port())
    env = running.env(CUNGDAN_INGEST_PORT=nobody, CUNGDAN_PROJECTOR_PORT=nobody,
                      CUNGDAN_TOKEN=running.admin)
    service = "projector" if args in PROJECTOR_COMMANDS else "ingest"
    assert_one_line(cungdan(args, env, running.tmp), f"cannot reach the {service}",
                    f"127.0.0.1:{nobody}", "connection refused",
                    f"CUNGDAN_{service.upper()}_PORT")


@pytest.mark.parametrize("args", [*PROJECTOR_COMMANDS, ["demo", "load"]], ids=" ".join)
def test_a_refused_token_is_one_line(running: Running, args: list[str]) -> None:
    service = "projector" if args in PROJECTOR_COMMANDS else "ingest"
    unknown = cungdan([*args, "--token", "cdn_not-a-token"], running.env(), running.tmp)
    assert_one_line(unknown, f"the {service} refused the token (401)")
    if service == "projector":  # a token without the role: 403
        weak = cungdan(args, running.env(CUNGDAN_TOKEN=running.reporter), running.tmp)
        assert_one_line(weak, f"the {service} refused the token (403)")


@pytest.mark.parametrize(("args", "env", "expected"), [
    (["status", "--bogus"], {}, "unrecognized arguments: --bogus"),
    (["deadletters", "redrive", "--seq", "x"], {}, "invalid int value: 'x'"),
    (["nonsense"], {}, "invalid choice: 'nonsense'"),
    (["import"], {}, "the following arguments are required: file"),
    (["import", "missing.csv"], {}, "no file missing.csv"),
    (["import", "{csv}.txt"], {}, "a .csv or .xlsx file is expected"),
    (["token", "create", "--name", "x"], {}, "required: --province"),
    (["token", "create", "--name", "x", "--province", "06"], {}, "legacy 06 is part of"),
    (["run", "--bogus"], {}, "unrecognized arguments: --bogus"),
    (["status"], {"CUNGDAN_PROJECTOR_PORT": "abc"}, "bad setting CUNGDAN_PROJECTOR_PORT='abc'"),
    (["demo", "load"], {"CUNGDAN_INGEST_PORT": "0"}, "bad setting CUNGDAN_INGEST_PORT='0'"),
    (["run"], {"CUNGDAN_NATS_PORT": "99999"}, "bad setting CUNGDAN_NATS_PORT"),
    (["status", "--projector", "127.0.0.1:8001"], {}, "bad projector URL"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_a_bad_argument_or_setting_is_one_line(running: Running, args: list[str],
                                               env: dict[str, str], expected: str) -> None:
    if args[-1] == "{csv}.txt":
        (running.tmp / "reports.csv.txt").write_text("id\n")
    answer = cungdan(args, running.env(**env), running.tmp)
    assert_one_line(answer, expected)


def test_a_malformed_tokens_file_is_one_line(running: Running) -> None:
    broken = running.tmp / "broken.json"
    broken.write_text("{not json")
    answer = cungdan(["token", "--file", str(broken), "list"], running.env(), running.tmp)
    assert_one_line(answer, f"the tokens file {broken} is not valid")


def test_run_refuses_a_port_in_use_in_one_line(running: Running) -> None:
    """A busy port would let another run's service answer the health check for this one."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        answer = cungdan(["run", "--no-demo"], running.env(
            CUNGDAN_INGEST_PORT=str(port), CUNGDAN_PROJECTOR_PORT=str(free_port()),
            CUNGDAN_NATS_PORT=str(free_port()), CUNGDAN_NATS_HTTP_PORT=str(free_port())),
            running.tmp)
    assert_one_line(answer, f"port {port} (CUNGDAN_INGEST_PORT) is in use")


def test_import_against_the_real_ingest(running: Running) -> None:
    """`cungdan import` end to end: the rejected row is written beside the file, fixed and
    imported again; the same file again counts nothing twice."""
    sheet = running.tmp / "tuan-19.csv"
    sheet.write_text(
        "campaign;locality;date;unit;road_km\r\n"
        "ngay-cuoi-tuan-cung-dan;04495;2023-05-06;Đoàn xã;1,5\r\n"
        "ngay-cuoi-tuan-cung-dan;04495;2023-05-13;Đoàn xã;2\r\n"
        "ngay-cuoi-tuan-cung-dan;99999;2023-05-13;Đoàn xã;3\r\n", encoding="utf-8-sig")
    env = running.env(CUNGDAN_TOKEN=running.reporter)
    first = cungdan(["import", str(sheet)], env, running.tmp)
    assert first.code == 1, first
    assert "Traceback" not in first.out + first.err
    rejected = running.tmp / "tuan-19.rejected.csv"
    rows = rejected.read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) == 2 and "99999" in rows[1], rows
    rejected.write_text(rejected.read_text(encoding="utf-8-sig").replace("99999", "04495"),
                        encoding="utf-8")
    fixed = cungdan(["import", str(rejected)], env, running.tmp)
    assert fixed.code == 0, fixed
    again = cungdan(["import", str(sheet)], env, running.tmp)
    assert again.code == 1, again
    for answer, counts in ((first, ("accepted", 2, "rejected", 1)),
                           (fixed, ("accepted", 1, "rejected", 0)),
                           (again, ("duplicate", 2, "rejected", 1))):
        for name, value in zip(counts[::2], counts[1::2], strict=True):
            assert re.search(rf"\b{value} {name}\b", answer.out), answer.out


def test_import_of_a_utf16_file_writes_its_rejected_rows_readably(running: Running) -> None:
    """Excel's "Unicode Text" is tab-separated UTF-16: the ingest reads it, and says so in
    its summary, so the rejected rows are copied out of it as they are (UTF-8, commas)."""
    sheet = running.tmp / "tuan-20.txt.csv"
    sheet.write_text(
        "campaign\tlocality\tdate\tunit\troad_km\r\n"
        "ngay-cuoi-tuan-cung-dan\t04495\t2023-05-20\tĐoàn xã\t2\r\n"
        "ngay-cuoi-tuan-cung-dan\t99999\t2023-05-20\tHội Phụ nữ\t3\r\n", encoding="utf-16")
    answer = cungdan(["import", str(sheet)], running.env(CUNGDAN_TOKEN=running.reporter),
                     running.tmp)
    assert answer.code == 1, answer
    assert re.search(r"\b1 accepted\b", answer.out), answer.out
    with (running.tmp / "tuan-20.txt.rejected.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["campaign", "locality", "date", "unit", "road_km", "reason"], rows
    assert rows[1][:5] == ["ngay-cuoi-tuan-cung-dan", "99999", "2023-05-20", "Hội Phụ nữ",
                           "3"], rows
    assert "99999" in rows[1][5] and len(rows) == 2, rows
