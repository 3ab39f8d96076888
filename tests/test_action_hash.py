"""The action hash (durable_approvals/action_hash.py): known vectors, canonical JSON, limits."""

from __future__ import annotations

import hashlib

import pytest

from durable_approvals.action_hash import (
    MAX_ARGS_BYTES,
    MAX_ARGS_DEPTH,
    ArgsError,
    action_hash,
    canonical_json,
    check_json_args,
    merge_patch,
)

# Known vectors: any implementation of docs/policies/edits.md must give these.
VECTORS = [
    (
        ("ws-test", "drop table users", {"db": "staging", "dry_run": False}),
        '{"action":"drop table users","args":{"db":"staging","dry_run":false},'
        '"workspace_id":"ws-test"}',
        "55811c0ba2919913c57bb8dfd6d7a10613d80c7ed665a42d007146748f8cef77",
    ),
    (
        ("ws-test", "drop table users", {"dry_run": True, "db": "staging"}),
        '{"action":"drop table users","args":{"db":"staging","dry_run":true},'
        '"workspace_id":"ws-test"}',
        "2988345164e148895a31e327249673179c7ff31d3fe9e56d36560a4b19848233",
    ),
    (
        ("ws-test", "drop table users", None),
        '{"action":"drop table users","args":null,"workspace_id":"ws-test"}',
        "ec0c93f82dc434f2765de76804f0634719736313eb77a483335df753bdee020f",
    ),
    (
        (
            "ws-test",
            "deploy",
            {"version": "1.2.3", "replicas": 3, "ratio": 0.25, "tags": ["a", "é"], "opts": {}},
        ),
        '{"action":"deploy","args":{"opts":{},"ratio":0.25,"replicas":3,"tags":["a","é"],'
        '"version":"1.2.3"},"workspace_id":"ws-test"}',
        "c349d642efaee2e641a82ab5e3438b2ed1485b17be114ada71af2cbf41d4da32",
    ),
]


@pytest.mark.parametrize(("inputs", "preimage_json", "expected"), VECTORS)
def test_known_vectors(inputs, preimage_json, expected):
    # The preimage is written out by hand and hashed with hashlib alone: the
    # vectors pin the documented encoding, not just this module's output.
    preimage = ("approvals-action-hash/v1\n" + preimage_json).encode("utf-8")
    assert hashlib.sha256(preimage).hexdigest() == expected
    assert action_hash(*inputs) == expected


def test_key_order_does_not_matter():
    one = {"b": {"y": 1, "x": [1, {"d": 0, "c": 1}]}, "a": "z"}
    two = {"a": "z", "b": {"x": [1, {"c": 1, "d": 0}], "y": 1}}
    assert action_hash("ws", "act", one) == action_hash("ws", "act", two)


def test_every_input_changes_the_hash():
    base = action_hash("ws", "act", {"k": 1})
    assert action_hash("ws2", "act", {"k": 1}) != base
    assert action_hash("ws", "act2", {"k": 1}) != base
    assert action_hash("ws", "act", {"k": 2}) != base
    assert action_hash("ws", "act", {"k": "1"}) != base
    assert action_hash("ws", "act", {}) != action_hash("ws", "act", None)


def test_array_order_matters():
    assert action_hash("ws", "a", {"l": [1, 2]}) != action_hash("ws", "a", {"l": [2, 1]})


def test_an_integral_float_is_the_integer():
    assert action_hash("ws", "a", {"n": 1.0}) == action_hash("ws", "a", {"n": 1})


# RFC 8785 number serialisation (ECMAScript Number::toString), appendix B examples and more.
@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (9007199254740992.0, "9007199254740992"),
        (-9007199254740992.0, "-9007199254740992"),
        (295147905179352830000.0, "295147905179352830000"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (333333333.3333333, "333333333.3333333"),
        (4.5, "4.5"),
        (0.002, "0.002"),
        (1e-27, "1e-27"),
        (-1.5e-10, "-1.5e-10"),
        (7, "7"),
    ],
)
def test_numbers_as_ecmascript_writes_them(number, text):
    assert canonical_json(number) == text


def test_strings_and_key_sorting_as_rfc_8785():
    # Keys sorted by UTF-16 code units: U+20AC < U+1F600 (D83D DE00) < U+FB01.
    value = {"\ufb01": 3, "\U0001f600": 2, "\u20ac": 1, "b": 'é\n\t"\\\x01\x7f'}
    assert canonical_json(value) == '{"b":"é\\n\\t\\"\\\\\\u0001\x7f","€":1,"😀":2,"ﬁ":3}'


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([1], "must be a JSON object"),
        ({"n": float("nan")}, "finite"),
        ({"n": float("inf")}, "finite"),
        ({"n": 2**53 + 1}, "integer beyond"),
        ({"s": "\ud800"}, "Unicode"),
        ({"x": {1, 2}}, "not a JSON value"),
        ({1: "x"}, "key is not a string"),
        ({"b": b"bytes"}, "not a JSON value"),
        ({"big": "x" * MAX_ARGS_BYTES}, "bytes encoded"),
    ],
)
def test_values_that_are_not_json_args(value, problem):
    with pytest.raises(ArgsError, match=problem):
        check_json_args(value)


def test_depth_limit():
    deep: dict = {}
    inner = deep
    for _ in range(MAX_ARGS_DEPTH - 1):
        inner["k"] = {}
        inner = inner["k"]
    check_json_args(deep)
    inner["k"] = {}
    with pytest.raises(ArgsError, match="nested deeper"):
        check_json_args(deep)


def test_merge_patch_is_rfc_7386():
    original = {"db": "staging", "opts": {"a": 1, "b": 2}, "gone": True}
    patch = {"dry_run": True, "opts": {"b": None, "c": 3}, "gone": None}
    assert merge_patch(original, patch) == {
        "db": "staging",
        "opts": {"a": 1, "c": 3},
        "dry_run": True,
    }
    assert original["gone"] is True  # not modified in place
