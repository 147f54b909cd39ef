"""JSON answers rendered by pydantic-core instead of the standard library."""

from __future__ import annotations

from typing import Any

import pydantic_core
from fastapi.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    """A :class:`JSONResponse` rendered by pydantic-core's serializer (Rust), for large
    answers (a 2025 province's totals with its communes), several times faster than
    ``json.dumps``. Same compact UTF-8 output for the plain dicts,
    lists, strings and integers the services send."""

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)
