"""The action hash's canonical JSON (durable_approvals/action_hash.py) against RFC 8785:
the RFC's own examples, then generated values."""

from __future__ import annotations

import json
import random
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from durable_approvals.action_hash import ArgsError, action_hash, canonical_json, check_json_args
from tests.properties.strategies import json_key, json_objects, json_values

# RFC 8785, Appendix B: IEEE 754 doubles (as hex) and how ECMAScript writes them.
RFC_8785_NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),  # minus zero
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]
RFC_8785_NOT_NUMBERS = ["7fffffffffffffff", "7ff0000000000000"]  # NaN, Infinity: errors


def double(hex_bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(hex_bits))[0]
    return value


@pytest.mark.parametrize(("bits", "text"), RFC_8785_NUMBERS)
def test_rfc_8785_numbers(bits, text):
    assert canonical_json(double(bits)) == text
    assert canonical_json({"n": double(bits)}) == '{"n":' + text + "}"


@pytest.mark.parametrize("bits", RFC_8785_NOT_NUMBERS)
def test_rfc_8785_nan_and_infinity_are_refused(bits):
    with pytest.raises(ArgsError):
        check_json_args({"n": double(bits)})
    with pytest.raises(ArgsError):
        action_hash("ws", "deploy", {"n": double(bits)})


def test_rfc_8785_section_3_2_2_example():
    # the input as the RFC writes it, parsed by a JSON parser
    source = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], '
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", '
        '"literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(json.loads(source)) == expected


def test_rfc_8785_section_3_2_3_sorting():
    source = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    order = [json.loads(key) for key in _keys_in(canonical_json(source))]
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert canonical_json(source) == (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )


def _keys_in(text: str) -> list[str]:
    decoded = json.loads(text, object_pairs_hook=lambda pairs: [k for k, _ in pairs])
    return [json.dumps(key) for key in decoded]


# --- generated values ---------------------------------------------------------------------


def reordered(value: Any, rnd: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: reordered(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [reordered(v, rnd) for v in value]
    return value


@given(json_values(), st.randoms(use_true_random=False), st.sampled_from([None, 0, 1, 4, "\t"]))
def test_key_order_and_whitespace_never_change_the_form(value, rnd, indent):
    canonical = canonical_json(value)
    written = json.dumps(reordered(value, rnd), indent=indent, ensure_ascii=rnd.random() < 0.5)
    assert canonical_json(json.loads(written)) == canonical
    assert canonical_json(json.loads(canonical)) == canonical  # a fixed point
    assert not any(
        ord(c) < 0x20 for c in canonical
    )  # no whitespace between tokens, no raw controls


@given(json_values())
def test_the_form_parses_back_to_the_same_value(value):
    assert json_key(json.loads(canonical_json(value))) == json_key(value)


@given(json_values(), json_values())
def test_distinct_values_have_distinct_forms(one, other):
    assert (canonical_json(one) == canonical_json(other)) == (json_key(one) == json_key(other))


@given(json_objects(), st.randoms(use_true_random=False))
def test_the_action_hash_ignores_key_order_only(args, rnd):
    digest = action_hash("ws", "deploy", args)
    assert action_hash("ws", "deploy", reordered(args, rnd)) == digest
    assert action_hash("ws", "deploy", json.loads(json.dumps(args, indent=2))) == digest
    assert action_hash("ws2", "deploy", args) != digest
    assert action_hash("ws", "deploy!", args) != digest


@given(st.lists(st.text(max_size=4), min_size=2, max_size=6, unique=True))
def test_keys_sort_by_utf16_code_units(names):
    text = canonical_json(dict.fromkeys(names, 0))
    order = [json.loads(key) for key in _keys_in(text)]
    assert order == sorted(names, key=lambda k: k.encode("utf-16-be"))
