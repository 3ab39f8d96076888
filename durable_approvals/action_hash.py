"""The action hash: what an approval binds to, computable by any implementation.

``action_hash(workspace_id, action, args)`` is the lowercase hex SHA-256 of the UTF-8
bytes of::

    "approvals-action-hash/v1\\n" + JCS({"action": action, "args": args,
                                         "workspace_id": workspace_id})

where JCS is the JSON Canonicalization Scheme of RFC 8785: object keys sorted by
their UTF-16 code units, no whitespace, strings as ECMAScript ``JSON.stringify``
writes them (only ``"``, ``\\`` and U+0000-U+001F escaped, as ``\\b \\f \\n \\r \\t``
or ``\\u00xx``; everything else literal, UTF-8), numbers as ECMAScript writes a
double (``1.0`` is ``1``, ``1e21`` is ``1e+21``, ``0.000001`` stays, ``1e-7``).
``args`` is ``null`` for a request without arguments. Any RFC 8785 library gives
the same bytes for the values ``check_json_args`` accepts: integers are limited to
±2^53 (exact in a double), floats must be finite, strings valid Unicode (no lone
surrogate). The known vectors are in tests/test_action_hash.py.

Pure functions, no I/O: the workflow calls them.
"""

from __future__ import annotations

import hashlib
import json
import math
from decimal import Decimal
from typing import Any

HASH_PREFIX = "approvals-action-hash/v1\n"
HASH_PATTERN = r"^[0-9a-f]{64}$"
MAX_ARGS_BYTES = 16 * 1024
"""The canonical encoding of ``args`` (or a schema, or edits) may not be longer."""
MAX_ARGS_DEPTH = 10
"""Nesting of objects and arrays in ``args`` (the top-level object is depth 1)."""
MAX_SAFE_INTEGER = 2**53

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


class ArgsError(ValueError):
    """A value that is not JSON args: which path and why (never the value itself)."""


def _number(value: int | float) -> str:
    """``value`` as ECMAScript's Number::toString writes it (RFC 8785 section 3.2.2.3)."""
    if isinstance(value, int):
        return str(value)
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    _, digits_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(str(d) for d in digits_tuple)
    k = len(digits)
    n = exponent + k  # the decimal point sits after n digits
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
        e = n - 1
        text = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + text


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int | float):
        out.append(_number(value))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        for index, key in enumerate(sorted(value, key=_utf16_key)):
            if index:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _encode(value[key], out)
        out.append("}")
    else:
        raise ArgsError(f"not JSON: {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """``value`` in RFC 8785 canonical form (check it with ``check_json_args`` first)."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


def _check(value: Any, path: str, depth: int) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ArgsError(f"{path}: integer beyond ±2^53")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ArgsError(f"{path}: number must be finite")
        return
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ArgsError(f"{path}: string is not valid Unicode") from None
        return
    if isinstance(value, list | dict):
        if depth >= MAX_ARGS_DEPTH:
            raise ArgsError(f"{path}: nested deeper than {MAX_ARGS_DEPTH}")
        if isinstance(value, list):
            for index, item in enumerate(value):
                _check(item, f"{path}[{index}]", depth + 1)
            return
        for key, item in value.items():
            if not isinstance(key, str):
                raise ArgsError(f"{path}: object key is not a string")
            _check(key, f"{path}.<key>", depth + 1)
            _check(item, f"{path}.{key[:40]}", depth + 1)
        return
    raise ArgsError(f"{path}: not a JSON value ({type(value).__name__})")


def check_json_args(value: Any, what: str = "args") -> dict[str, Any]:
    """``value`` if it is a JSON object within the limits, else ``ArgsError``.

    Limits: a ``dict`` with string keys; values null, booleans, integers within
    ±2^53, finite floats, valid Unicode strings, lists and objects; nesting at most
    ``MAX_ARGS_DEPTH``; canonical encoding at most ``MAX_ARGS_BYTES`` bytes.
    """
    if not isinstance(value, dict):
        raise ArgsError(f"{what}: must be a JSON object")
    _check(value, what, 0)
    size = len(canonical_json(value).encode("utf-8"))
    if size > MAX_ARGS_BYTES:
        raise ArgsError(f"{what}: {size} bytes encoded, more than {MAX_ARGS_BYTES}")
    return value


def action_hash(workspace_id: str, action: str, args: dict[str, Any] | None) -> str:
    """The SHA-256 hex of the v1 preimage (module docstring) of this action in this workspace."""
    if args is not None:
        check_json_args(args)
    body = canonical_json({"action": action, "args": args, "workspace_id": workspace_id})
    return hashlib.sha256((HASH_PREFIX + body).encode("utf-8")).hexdigest()


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON Merge Patch: ``patch``'s keys replace ``target``'s, ``null`` removes one.

    The CLI's ``--edit`` applies its JSON to the request's args this way.
    """
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


__all__ = [
    "HASH_PATTERN",
    "HASH_PREFIX",
    "MAX_ARGS_BYTES",
    "MAX_ARGS_DEPTH",
    "ArgsError",
    "action_hash",
    "canonical_json",
    "check_json_args",
    "merge_patch",
]
