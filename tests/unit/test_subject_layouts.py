"""The two subject layouts (cungdan_contracts.subjects) and ingest's index of layout 1:
which filter matches which subject, and which ids ingest must look for in layout 1."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from cungdan_contracts import AdminMap
from cungdan_contracts.subjects import (
    ALL_EVENTS,
    ALL_LOGGED,
    Address,
    Kind,
    corrected_subject,
    event_filter,
    history_filters,
    key_filter,
    layout1_corrected_subject,
    layout1_filter,
    layout1_key_filters,
    layout1_kind_filters,
    layout1_logged_subject,
    layout1_retracted_subject,
    logged_filter,
    logged_subject,
    parse,
    retracted_subject,
)
from cungdan_ingest.layout1 import Layout1Builder, Layout1Ids
from cungdan_ingest.subject_listing import (
    SubjectListingError,
    subject_pages,
    subjects,
    subjects_in_parts,
)

A, B, C = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
LEGACY = AdminMap.LEGACY
CAMPAIGN = "dan-van-kheo"


def matches(subject_filter: str, subject: str) -> bool:
    """NATS subject matching: ``*`` one token, ``>`` one or more at the end."""
    pattern = r"\.".join(".+" if token == ">" else "[^.]+" if token == "*" else re.escape(token)
                         for token in subject_filter.split("."))
    return re.fullmatch(pattern, subject) is not None


LAYOUT2 = {
    Kind.LOGGED: logged_subject(LEGACY, "15", CAMPAIGN, A),
    Kind.CORRECTED: corrected_subject(LEGACY, "15", CAMPAIGN, A, C),
    Kind.RETRACTED: retracted_subject(LEGACY, "15", CAMPAIGN, A),
}
LAYOUT1 = {
    Kind.LOGGED: layout1_logged_subject(LEGACY, "15", CAMPAIGN, A),
    Kind.CORRECTED: layout1_corrected_subject(LEGACY, "15", CAMPAIGN, A, C),
    Kind.RETRACTED: layout1_retracted_subject(LEGACY, "15", CAMPAIGN, A),
}


def test_layout_2_puts_the_stored_id_right_after_the_prefix() -> None:
    assert {
        Kind.LOGGED: f"cungdan.activity.{A}.logged.legacy.15.dan-van-kheo.v2",
        Kind.CORRECTED: f"cungdan.activity.{C}.corrected.legacy.15.dan-van-kheo.v1.{A}",
        Kind.RETRACTED: f"cungdan.activity.{A}.retracted.legacy.15.dan-van-kheo.v1",
    } == LAYOUT2
    assert {  # as ingest wrote them before layout 2: frozen
        Kind.LOGGED: f"cungdan.activity.v2.logged.legacy.15.dan-van-kheo.{A}",
        Kind.CORRECTED: f"cungdan.activity.v1.corrected.legacy.15.dan-van-kheo.{A}.{C}",
        Kind.RETRACTED: f"cungdan.activity.v1.retracted.legacy.15.dan-van-kheo.{A}",
    } == LAYOUT1


@pytest.mark.parametrize("layout", [1, 2])
def test_parse_reads_both_layouts(layout: int) -> None:
    subjects_ = LAYOUT1 if layout == 1 else LAYOUT2
    versions = {Kind.LOGGED: "v2", Kind.CORRECTED: "v1", Kind.RETRACTED: "v1"}
    for kind, subject in subjects_.items():
        key = str(C if kind is Kind.CORRECTED else A)
        assert parse(subject) == Address(layout, kind, versions[kind], "legacy", "15", CAMPAIGN,
                                         key, str(A)), subject


@pytest.mark.parametrize("subject", [
    "cungdan.activity.wording",
    f"cungdan.activity.{A}.logged.legacy.15.x", f"cungdan.activity.{A}.logged.legacy.15.x.y",
    f"cungdan.activity.{A}.moved.legacy.15.x.v1", f"other.activity.{A}.logged.legacy.15.x.v1",
    f"cungdan.activity.v1.corrected.legacy.15.x.{A}",
])
def test_parse_refuses_what_is_no_event_subject(subject: str) -> None:
    assert parse(subject) is None


def test_the_filters_consumers_use_read_both_layouts() -> None:
    every = [*LAYOUT1.values(), *LAYOUT2.values()]
    for subject_filter in (ALL_EVENTS, event_filter(LEGACY, "15", CAMPAIGN),
                           "cungdan.activity.*.*.legacy.15.>",
                           "cungdan.activity.*.*.*.*.dan-van-kheo.>"):
        assert all(matches(subject_filter, s) for s in every), subject_filter
    logged = {LAYOUT1[Kind.LOGGED], LAYOUT2[Kind.LOGGED]}
    for subject_filter in (ALL_LOGGED, logged_filter(LEGACY, "15", CAMPAIGN), logged_filter()):
        assert {s for s in every if matches(subject_filter, s)} == logged, subject_filter
    assert not any(matches(event_filter(AdminMap.Y2025, "15", CAMPAIGN), s) for s in every)
    history = history_filters(A)
    assert all(any(matches(f, s) for f in history) for s in every)
    assert not any(matches(f, s) for f in history_filters(B) for s in every)
    assert all(matches(f, s) for f, s in zip(history_filters(A, layout1=False),
                                               [LAYOUT2[Kind.LOGGED], LAYOUT2[Kind.CORRECTED]],
                                               strict=True))


def test_the_one_layout_filters_of_docs_downstream_read_their_layout_alone() -> None:
    tail = "legacy.15.dan-van-kheo"
    documented = {
        Kind.LOGGED: (f"cungdan.activity.*.logged.{tail}.v2",
                      f"cungdan.activity.v2.logged.{tail}.*"),
        Kind.CORRECTED: (f"cungdan.activity.*.corrected.{tail}.v1.*",
                         f"cungdan.activity.v1.corrected.{tail}.*.*"),
        Kind.RETRACTED: (f"cungdan.activity.*.retracted.{tail}.v1",
                         f"cungdan.activity.v1.retracted.{tail}.*"),
    }
    every = [*LAYOUT1.values(), *LAYOUT2.values()]
    for kind, (layout2, layout1) in documented.items():
        assert [s for s in every if matches(layout2, s)] == [LAYOUT2[kind]], kind
        assert [s for s in every if matches(layout1, s)] == [LAYOUT1[kind]], kind


def test_an_id_filter_matches_its_kind_and_key_in_its_own_layout_only() -> None:
    for kind in Kind:
        key = C if kind is Kind.CORRECTED else A
        assert [s for s in LAYOUT2.values() if matches(key_filter(kind, key), s)] == [
            LAYOUT2[kind]]
        assert [s for s in LAYOUT1.values()
                if any(matches(f, s) for f in layout1_key_filters(kind, key))] == [LAYOUT1[kind]]
        assert not any(matches(key_filter(kind, key), s) for s in LAYOUT1.values())
        assert not any(matches(f, s) for f in layout1_key_filters(kind, key)
                       for s in LAYOUT2.values())
        assert not matches(key_filter(kind, B), LAYOUT2[kind])
        assert [s for s in [*LAYOUT1.values(), *LAYOUT2.values()]
                if any(matches(f, s) for f in layout1_kind_filters(kind))] == [LAYOUT1[kind]]
    # other routing, same id: still the same id (a conflict, not a new event)
    moved = logged_subject(AdminMap.Y2025, "01", "hoc-tap-lam-theo-bac", A, version=3)
    assert matches(key_filter(Kind.LOGGED, A), moved)


def test_the_layout_1_index_holds_layout_1_ids_by_kind() -> None:
    index = Layout1Ids.of_subjects([
        *LAYOUT1.values(), *(s.replace(str(A), str(B)) for s in LAYOUT2.values()),
        "cungdan.activity.v1.logged.legacy.15.x.not-json", "cungdan.activity.wording"])
    assert index.counts() == {"logged": 1, "corrected": 1, "retracted": 1}
    assert len(index) == 3 and index.nbytes == 24
    assert index.may_hold(Kind.LOGGED, str(A)) and index.may_hold(Kind.RETRACTED, str(A))
    assert index.may_hold(Kind.CORRECTED, str(C))
    assert not index.may_hold(Kind.CORRECTED, str(A))  # a kind of its own
    assert not index.may_hold(Kind.LOGGED, str(B))  # layout 2: not indexed
    assert not index.may_hold(Kind.LOGGED, "not-json")
    assert not Layout1Ids().may_hold(Kind.LOGGED, str(A))


def test_the_index_compares_the_first_64_bits_of_an_id() -> None:
    index = Layout1Ids.of_subjects([layout1_logged_subject(LEGACY, "15", CAMPAIGN, A)])
    twin = uuid.UUID(int=A.int ^ 1)  # other low bits: "maybe", checked against the stream
    assert index.may_hold(Kind.LOGGED, str(twin))
    assert not index.may_hold(Kind.LOGGED, str(uuid.UUID(int=A.int ^ (1 << 64))))


@dataclass
class _Reply:
    data: bytes


@dataclass
class PagingNats:
    """Answers STREAM.INFO with subjects_filter as the server does: 100,000 a page."""

    subjects: list[str]
    page: int = 3
    asked: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    async def request(self, subject: str, payload: bytes,
                      timeout: float) -> _Reply:  # noqa: ASYNC109 - nats-py's signature
        assert subject == "$JS.API.STREAM.INFO.S"
        ask = json.loads(payload)
        self.asked.append(ask)
        if self.error:
            return _Reply(json.dumps({"error": {"description": self.error}}).encode())
        found = sorted(s for s in self.subjects if matches(ask["subjects_filter"], s))
        offset = ask["offset"]
        state = {"subjects": dict.fromkeys(found[offset:offset + self.page], 1) or None}
        return _Reply(json.dumps({"state": state, "total": len(found), "offset": offset,
                                  "limit": self.page}).encode())


async def test_a_listing_reads_every_page() -> None:
    listed = [layout1_logged_subject(LEGACY, "15", CAMPAIGN, uuid.uuid4()) for _ in range(7)]
    nc = PagingNats([*listed, LAYOUT2[Kind.LOGGED]])
    pages = [page async for page in subject_pages(nc, "S", "cungdan.activity.v2.logged.>")]  # type: ignore[arg-type]
    assert [len(page) for page in pages] == [3, 3, 1]
    assert sorted(s for page in pages for s in page) == sorted(listed)
    assert [ask["offset"] for ask in nc.asked] == [0, 3, 6]
    assert await subjects(nc, "S", "cungdan.activity.v1.logged.>") == []  # type: ignore[arg-type]
    nc.error = "stream not found"
    with pytest.raises(SubjectListingError, match="stream not found"):
        await subjects(nc, "S", ALL_EVENTS)  # type: ignore[arg-type]


async def test_a_big_listing_is_asked_for_by_parts_and_whole_if_they_miss_some() -> None:
    listed = [layout1_logged_subject(LEGACY, province, CAMPAIGN, uuid.uuid4())
              for province in ("15", "15", "06", "06", "06", "38", "99")]
    nc = PagingNats(listed)
    whole = layout1_filter(Kind.LOGGED, "v2")
    parts = [layout1_filter(Kind.LOGGED, "v2", LEGACY, p) for p in ("15", "06", "38")]

    async def listing(parts_: list[str]) -> list[str]:
        nc.asked.clear()
        return [s for page in [p async for p in subjects_in_parts(nc, "S", whole, parts_)]  # type: ignore[arg-type]
                for s in page]

    every = await listing([*parts, layout1_filter(Kind.LOGGED, "v2", LEGACY, "99")])
    assert sorted(every) == sorted(listed)  # by parts, each in one page
    assert nc.asked[0]["subjects_filter"] == whole and len(nc.asked) == 5
    missed = await listing(parts)  # "99" is in no part: the whole filter is paged through
    assert sorted(set(missed)) == sorted(listed) and len(missed) == 6 + len(listed)
    nc.page = 10
    assert sorted(await listing(parts)) == sorted(listed)  # one page: no parts asked
    assert len(nc.asked) == 1
    builder = Layout1Builder()
    builder.add_listed(Kind.LOGGED, missed)
    index = builder.build()
    assert index.counts()["logged"] == len(missed)  # twice listed: harmless
    assert all(index.may_hold(Kind.LOGGED, s.rsplit(".", 1)[1]) for s in listed)
