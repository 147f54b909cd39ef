"""The contracts package loads its modules on first use, so that the projector's writer
process (which folds decoded items into SQL) never builds the pydantic models: ~10 MiB less
at the rebuild's peak (docs/benchmarks.md, thirteenth round)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import cungdan_contracts


def test_every_public_name_resolves_to_its_module() -> None:
    assert set(cungdan_contracts._WHERE) == set(cungdan_contracts.__all__)
    for name in cungdan_contracts.__all__:
        value = getattr(cungdan_contracts, name)
        module = sys.modules[f"cungdan_contracts.{cungdan_contracts._WHERE[name]}"]
        assert value is getattr(module, name)
    assert set(cungdan_contracts.__all__) <= set(dir(cungdan_contracts))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchContract"):
        cungdan_contracts.NoSuchContract  # noqa: B018


def _loaded_after(statement: str) -> set[str]:
    code = f"{statement}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    return set(done.stdout.split())


def test_the_writer_process_loads_no_pydantic() -> None:
    loaded = _loaded_after("import cungdan_projector.writer_child\n"
                           "from cungdan_projector.rollup import entry_of\n"
                           "entry_of('00001')")
    assert "cungdan_projector.store" in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("pydantic", "pydantic_core")}


def test_the_catalog_alone_loads_no_pydantic_and_a_model_loads_it() -> None:
    assert "pydantic" not in _loaded_after("from cungdan_contracts import INDICATORS")
    assert "pydantic" in _loaded_after("from cungdan_contracts import ActivityLogged")
