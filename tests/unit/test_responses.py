"""The services' fast JSON renderer against Starlette's standard one."""

from __future__ import annotations

import json

from fastapi.responses import JSONResponse
from hypothesis import given
from hypothesis import strategies as st

from cungdan_service.responses import FastJSONResponse

answers = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)
"""What the services answer with: no floats (amounts travel as decimal strings)."""


@given(answers)
def test_it_renders_the_bytes_starlette_would(content: object) -> None:
    assert FastJSONResponse(content).body == JSONResponse(content).body


def test_a_province_answer_keeps_its_vietnamese_names_readable() -> None:
    body = FastJSONResponse({"name": "Tuyên Quang", "totals": {"trees_planted": "12.5"}}).body
    assert "Tuyên Quang".encode() in body
    assert json.loads(body) == {"name": "Tuyên Quang", "totals": {"trees_planted": "12.5"}}
