"""``cungdan token create|list|revoke`` on a temporary tokens file."""

from __future__ import annotations

from pathlib import Path

import pytest

from cungdan.cli import main
from cungdan_service.auth import Authorizer
from cungdan_service.tokens import TokenFile


def test_create_prints_the_token_alone_on_its_last_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUNGDAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CUNGDAN_TOKENS_FILE", raising=False)
    assert main(["token", "create", "--name", "thai-nguyen", "--province", "19",
                 "--role", "report", "--role", "correct"]) == 0
    out = capsys.readouterr().out
    secret = out.splitlines()[-1]
    assert secret.startswith("cdn_") and " " not in secret
    assert "legacy 06, 19" in out  # the legacy provinces merged into 19
    tokens = TokenFile(tmp_path / "data" / "tokens.json")  # the file `make run` uses
    principal = Authorizer(tokens).authenticate(f"Bearer {secret}")
    assert principal.name == "thai-nguyen" and principal.legacy_provinces == {"06", "19"}

    assert main(["token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "thai-nguyen" in listing and secret not in listing

    assert main(["token", "revoke", "thai-nguyen"]) == 0
    assert main(["token", "revoke", "thai-nguyen"]) == 1
    assert "no token named" in capsys.readouterr().err
    assert tokens.read() == []


def test_bad_arguments_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = str(tmp_path / "t.json")
    assert main(["token", "--file", file, "create", "--name", "x", "--province", "06"]) == 2
    assert "legacy 06 is part of 2025 province 19" in capsys.readouterr().err
    assert main(["token", "--file", file, "create", "--name", "Bad!", "--province", "15"]) == 2
    with pytest.raises(SystemExit):
        main(["token", "--file", file, "create", "--name", "x", "--province", "15",
              "--role", "god"])
    assert not Path(file).exists() or TokenFile(Path(file)).read() == []
