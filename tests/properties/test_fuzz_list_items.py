"""Fuzzing the list reply's item reader (durable_approvals/json_items.py), which splits a
streamed JSON array into items without parsing them: whatever the bytes and however
they are cut into chunks, it yields the array's items (each item's exact bytes, or
``Oversized`` past the cap) or raises ``NotAnArray``, and the cut never changes the
answer."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from durable_approvals.json_items import HEAD_BYTES, ArrayItems, NotAnArray, Oversized
from tests.properties.strategies import any_json, json_key

tricky_strings = st.sampled_from(['"', "\\", '\\"', "]", "[", ",", "}", "{", 'a"b\\', "é€😀"])
elements = st.one_of(
    any_json,
    tricky_strings,
    st.lists(tricky_strings, max_size=3),
    st.dictionaries(tricky_strings, tricky_strings, max_size=2),
)


def read(data: bytes, cuts: list[int], cap: int = 1_000_000) -> list[bytes | Oversized] | str:
    """The items of ``data`` fed in pieces cut at ``cuts``, or ``"NotAnArray"``."""
    reader = ArrayItems(cap)
    items: list[bytes | Oversized] = []
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    try:
        for start, end in itertools.pairwise(bounds):
            reader.feed(data[start:end])
            items += reader.take()
            if reader.done:
                break
        reader.close()
    except NotAnArray:
        return "NotAnArray"
    return items


def encoded(value: list[Any], style: int) -> bytes:
    if style == 0:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    if style == 1:
        return json.dumps(value).encode()
    return (" \n" + json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()


@given(st.lists(elements, max_size=6), st.integers(0, 2), st.lists(st.integers(0, 10_000)))
@example(['a"b\\'], 0, [4, 5, 6])
def test_an_array_yields_its_items_however_it_is_cut(value, style, cuts):
    data = encoded(value, style)
    items = read(data, cuts)
    assert isinstance(items, list)
    assert [json_key(json.loads(item)) for item in items] == [json_key(v) for v in value]
    if style == 0:  # compact: each item is exactly its element's bytes
        assert items == [
            json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode() for v in value
        ]


@given(st.lists(elements, max_size=6), st.integers(1, 40), st.lists(st.integers(0, 10_000)))
def test_an_item_past_the_cap_is_oversized_with_its_size_and_head(value, cap, cuts):
    data = encoded(value, 0)
    items = read(data, cuts, cap)
    assert isinstance(items, list) and len(items) == len(value)
    for item, element in zip(items, value, strict=True):
        raw = json.dumps(element, separators=(",", ":"), ensure_ascii=False).encode()
        if len(raw) > cap:
            assert item == Oversized(len(raw), raw[:HEAD_BYTES])
        else:
            assert item == raw


@given(
    st.binary(max_size=80)
    | st.lists(elements, max_size=4).map(lambda v: json.dumps(v).encode()[:-1])  # unfinished
    | st.lists(elements, max_size=4).map(lambda v: json.dumps(v).encode() + b"]garbage"),
    st.lists(st.integers(0, 10_000), max_size=6),
    st.lists(st.integers(0, 10_000), max_size=6),
)
@example(b"[" * 100_000, [], [])
def test_any_bytes_give_items_or_not_an_array_whatever_the_cut(data, cuts, other_cuts):
    first = read(data, cuts)
    assert first == read(data, other_cuts) == read(data, [])
