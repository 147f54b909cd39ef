"""The ids the stream holds in subject layout 1, by kind: an index built at start.

Layout 2 puts an event's id right after ``cungdan.activity.``, so JetStream checks an id
against it directly (:func:`cungdan_contracts.subjects.key_filter`). Events stored in
layout 1, before the upgrade, carry their ids last, where only a filter with wildcards
before the id finds them: a check costs the server the size of layout 1's part of its
subject index. So ingest asks it only for the ids this index holds: the id of a report, a
correction or a retraction that is not here was never stored in layout 1, and the
layout-2 check alone is exact for it.

Nothing is written to upgrade a stream: the index is made at every start from the server's
own list of layout-1 subjects (:mod:`.subject_listing`), which no longer grows once every
ingest writes layout 2. Each id is kept as the first 64 of its 128 bits, in a sorted
array: 8 bytes an id. Two ids can share them, so a hit is a "maybe", checked against
the stream; a miss is certain. (A UUID v4 has 60 random bits there: with a million ids
indexed, a new id hits by chance once in about 10**12.)
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Mapping

from cungdan_contracts.subjects import Kind, parse


def _key(text: str) -> int | None:
    """The first 64 bits of a UUID in its canonical text (lower-case hex with dashes)."""
    if len(text) != 36 or text[8] != "-" or text[13] != "-":
        return None
    try:
        return int(text[0:8] + text[9:13] + text[14:18], 16)
    except ValueError:
        return None


class Layout1Ids:
    """Which ids the stream's layout-1 subjects carry, per kind (a "maybe" per hit)."""

    def __init__(self, keys: Mapping[Kind, Iterable[int]] | None = None) -> None:
        self._keys = {kind: array("Q", sorted((keys or {}).get(kind, ()))) for kind in Kind}

    @classmethod
    def of_subjects(cls, subjects: Iterable[str]) -> Layout1Ids:
        """The index of the layout-1 event subjects among ``subjects`` (others are
        ignored: layout 2, and anything that is no event subject)."""
        builder = Layout1Builder()
        builder.add(subjects)
        return builder.build()

    def may_hold(self, kind: Kind, key: str) -> bool:
        """Whether a layout-1 ``kind`` event may be stored under ``key``; False is certain."""
        found = _key(key)
        if found is None:
            return False
        keys = self._keys[kind]
        at = bisect.bisect_left(keys, found)
        return at < len(keys) and keys[at] == found

    def counts(self) -> dict[str, int]:
        """Ids indexed per kind."""
        return {kind.value: len(keys) for kind, keys in self._keys.items()}

    def __len__(self) -> int:
        return sum(len(keys) for keys in self._keys.values())

    @property
    def nbytes(self) -> int:
        return sum(keys.itemsize * len(keys) for keys in self._keys.values())


class Layout1Builder:
    """Gathers the index a page of subjects at a time (``add`` each, then ``build``): a
    page is let go before the next comes, where a million subjects at once would hold
    ~150 MB of text."""

    def __init__(self) -> None:
        self._keys: dict[Kind, array[int]] = {kind: array("Q") for kind in Kind}

    def add(self, subjects: Iterable[str]) -> None:
        """Any subjects: the layout-1 event subjects among them are indexed."""
        for subject in subjects:
            address = parse(subject)
            if address is not None and address.layout == 1:
                key = _key(address.key)
                if key is not None:
                    self._keys[address.kind].append(key)

    def add_listed(self, kind: Kind, subjects: Iterable[str]) -> None:
        """Subjects listed by a :func:`cungdan_contracts.subjects.layout1_filter` of
        ``kind``: their last token is the key (read without parsing the rest: a million
        subjects are parsed in ~2 s, cut in ~0.5 s)."""
        keys = self._keys[kind]
        for subject in subjects:
            key = _key(subject[subject.rfind(".") + 1:])
            if key is not None:
                keys.append(key)

    def build(self) -> Layout1Ids:
        return Layout1Ids(self._keys)
