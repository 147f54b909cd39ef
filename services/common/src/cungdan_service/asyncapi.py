"""The AsyncAPI document of cungdan's events, generated from the code.

FastStream's specification support writes it: a :class:`~faststream.nats.NatsBroker`
that is never connected (a broker only connects when started) declares one publisher
per event kind on its subject pattern, with the contracts' pydantic models as payload
schemas. Two things FastStream does not know are then added from the code too:

- the ``parameters`` of each channel address (``{map}``, ``{province}``, ...), with the
  maps and campaigns of the contracts package as enums;
- the headers of each message. Ingest publishes ``Nats-Msg-Id``, ``Cungdan-Type``,
  ``Cungdan-Version`` (and ``Cungdan-Fingerprint`` on ``ActivityLogged``), never a
  ``correlation_id``, so FastStream's default correlation id is dropped.

The output is deterministic (sorted keys, no timestamps). Both services serve it at
``GET /asyncapi.json`` (:mod:`.web`); ``docs/asyncapi.json`` is the committed copy:

    python -m cungdan_service.asyncapi docs/asyncapi.json

and ``tests/unit/test_asyncapi.py`` fails while the committed copy differs.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faststream.nats import JStream, NatsBroker
from faststream.nats.security import NatsUserPassword
from faststream.specification import AsyncAPI, get_asyncapi_html
from pydantic import BaseModel

from cungdan_contracts.subjects import (
    HEADER_TYPE,
    HEADER_VERSION,
    STREAM,
)

from .asyncapi_channels import (
    CHANNELS,
    DEADLETTER_STREAM,
    DESCRIPTION,
    DOCUMENT_VERSION,
    HEADERS,
    PARAMETERS,
    SERVER_DESCRIPTION,
    SERVER_URL,
    TITLE,
)
from .docs_pages import ASYNCAPI_CSS, ASYNCAPI_JS

_PARAMETER = re.compile(r"\{(\w+)\}")


def _broker() -> NatsBroker:
    """A broker that only describes: it is never started, so it never connects."""
    broker = NatsBroker(SERVER_URL, description=SERVER_DESCRIPTION,
                        security=NatsUserPassword("reader", ""))
    streams = {name: JStream(name, declare=False) for name in (STREAM, DEADLETTER_STREAM)}
    for channel in CHANNELS:
        broker.publisher(channel.address, stream=streams[channel.stream], title=channel.key,
                         description=channel.description, schema=channel.payload)
    return broker


def _complete(document: dict[str, Any]) -> dict[str, Any]:
    """Add what FastStream cannot know: channel parameters, message headers, and
    payload schemas named after their models (``ActivityLogged`` v1's model is titled
    ``ActivityLogged``, which would read as the current version)."""
    schemas = document["components"]["schemas"]
    for channel in CHANNELS:
        described = document["channels"][channel.key]
        names = _PARAMETER.findall(channel.address)
        described["parameters"] = {name: copy.deepcopy(PARAMETERS[name]) for name in names}
        for ref in described["messages"].values():
            message = document["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]
            message.pop("correlationId", None)
            message["name"] = channel.key
            message["contentType"] = ("application/json" if issubclass(channel.payload, BaseModel)
                                      else "application/octet-stream")
            headers = {h: copy.deepcopy(HEADERS[h]) for h in channel.headers}
            if channel.contract is not None:
                kind, version = channel.contract
                headers[HEADER_TYPE] = {**headers[HEADER_TYPE], "const": kind}
                headers[HEADER_TYPE].pop("enum")
                headers[HEADER_VERSION] = {**headers[HEADER_VERSION], "const": version}
            message["headers"] = {"type": "object", "properties": headers,
                                  "required": list(channel.required_headers)}
            current = message["payload"]["$ref"].rsplit("/", 1)[1]
            if current != channel.payload_name:
                if channel.payload_name in schemas:
                    raise ValueError(f"two payload schemas named {channel.payload_name}")
                schemas[channel.payload_name] = schemas.pop(current)
                _replace_refs(document, f"#/components/schemas/{current}",
                              f"#/components/schemas/{channel.payload_name}")
            if channel.payload_description:
                schemas[channel.payload_name]["description"] = channel.payload_description
    return document


def _replace_refs(node: Any, old: str, new: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and value == old:
                node[key] = new
            else:
                _replace_refs(value, old, new)
    elif isinstance(node, list):
        for item in node:
            _replace_refs(item, old, new)


@functools.cache
def _json_text() -> str:
    spec = AsyncAPI(_broker(), title=TITLE, version=DOCUMENT_VERSION, description=DESCRIPTION)
    with warnings.catch_warnings():
        # FastStream warns when two channels, messages or schemas get the same name and
        # one overwrites the other: that would be a wrong document.
        warnings.simplefilter("error", RuntimeWarning)
        document = json.loads(spec.to_specification().to_json())
    return json.dumps(_complete(document), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def asyncapi_json() -> str:
    """The document as JSON text: sorted keys, 2-space indent, a final newline."""
    return _json_text()


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of cungdan's events (a fresh copy)."""
    document: dict[str, Any] = json.loads(_json_text())
    return document


@dataclass(frozen=True, slots=True)
class _Completed:
    """The completed document as a :class:`faststream.specification.Specification`."""

    text: str

    @property
    def title(self) -> str:
        return TITLE

    def to_json(self) -> str:
        return self.text

    def to_jsonable(self) -> Any:
        return json.loads(self.text)

    def to_yaml(self) -> str:
        return self.text  # JSON is YAML


_REMOTE_ICON = re.compile(r'\s*<link rel="icon"[^>]*href="https?://[^>]*>')


@functools.cache
def asyncapi_html() -> str:
    """FastStream's page for the document, with the AsyncAPI React component and its
    styles served by the service (:mod:`.docs_pages`), and without the icons it would
    fetch from asyncapi.com: it works offline."""
    page = get_asyncapi_html(_Completed(_json_text()), try_it_out_path=None,
                             asyncapi_js_url=ASYNCAPI_JS, asyncapi_css_url=ASYNCAPI_CSS)
    return _REMOTE_ICON.sub("", page)


def main(argv: list[str] | None = None) -> int:
    """``python -m cungdan_service.asyncapi [PATH]``: write the document (stdout: ``-``)."""
    args = sys.argv[1:] if argv is None else argv
    target = args[0] if args else "docs/asyncapi.json"
    if target == "-":
        sys.stdout.buffer.write(asyncapi_json().encode())
        return 0
    Path(target).write_text(asyncapi_json(), encoding="utf-8")
    print(target)
    return 0


if __name__ == "__main__":  # pragma: no cover - thin CLI
    raise SystemExit(main())
