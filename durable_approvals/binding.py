"""Which decisions may approve a request with ``args``, and which edits are allowed.

Pure functions, no I/O: the workflow (``DecisionRules``) and the reference
platform's decide route apply the same rules. docs/policies/edits.md explains them.

The binding rule, for a request with ``args``:

1. a decision that names an ``action_hash`` must name the one it decides: the
   request's hash, or with ``edited_args`` the hash of (workspace, action,
   edited_args); else ``hash-mismatch``;
2. an approval must name a hash (``hash-missing``); a denial may omit it;
3. ``edited_args`` only on an approval, and only where the request had args, and
   they must pass the edit rule (``edit-invalid``);
4. a vote (a request that counts votes, N-of-M) carries no ``edited_args``
   (``edits-need-one-decider``): approvals of different edits have no single meaning.

For a request without ``args`` a decision with neither hash nor edits is taken as
before; one with edits is ``edit-invalid``, one with a hash must name the request's.

The edit rule: with an ``args_schema``, the edited args must satisfy it; without
one, they must have the same shape as the original: the same keys, each value the
same JSON type (null, boolean, number, string, array, object), objects compared
the same way all the way down, array items free.

The schema subset (no ``jsonschema`` package is installed; every other keyword is
refused when the request is built, so nobody relies on an unenforced one):
``type`` (a name or a list of: null boolean integer number string array object),
``enum``, ``const``, ``properties``, ``required``, ``additionalProperties``
(boolean or schema), ``items`` (a schema), ``minimum``, ``maximum``, ``minLength``,
``maxLength``, ``maxItems``; ``title``, ``description`` and ``default`` are
annotations.
"""

from __future__ import annotations

from typing import Any

from durable_approvals.action_hash import ArgsError, action_hash, canonical_json, check_json_args

HASH_MISMATCH = "hash-mismatch"
HASH_MISSING = "hash-missing"
EDIT_INVALID = "edit-invalid"
EDITS_NEED_ONE_DECIDER = "edits-need-one-decider"

_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
_SCHEMA_KEYWORDS = {
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "maxItems",
    "title",
    "description",
    "default",
}


def json_type(value: Any) -> str:
    """The JSON type name of a checked value (``number`` for every int and float)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def check_schema(schema: Any, path: str = "args_schema") -> dict[str, Any]:
    """``schema`` if it only uses the supported subset, well formed; else ``ArgsError``."""
    if not isinstance(schema, dict):
        raise ArgsError(f"{path}: a schema must be a JSON object")
    if path == "args_schema":
        check_json_args(schema, "args_schema")
    unknown = sorted(set(schema) - _SCHEMA_KEYWORDS)
    if unknown:
        raise ArgsError(f"{path}: unsupported keyword {unknown[0][:40]!r}")
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not kinds or any(k not in _TYPES for k in kinds):
            raise ArgsError(f"{path}.type: must name JSON types")
    if "enum" in schema and not isinstance(schema["enum"], list):
        raise ArgsError(f"{path}.enum: must be an array")
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        raise ArgsError(f"{path}.properties: must be an object")
    for name, sub in properties.items():
        check_schema(sub, f"{path}.properties.{name[:40]}")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise ArgsError(f"{path}.required: must be an array of names")
    extra = schema.get("additionalProperties", True)
    if not isinstance(extra, bool):
        check_schema(extra, f"{path}.additionalProperties")
    if "items" in schema:
        check_schema(schema["items"], f"{path}.items")
    for bound in ("minimum", "maximum"):
        if bound in schema and json_type(schema[bound]) != "number":
            raise ArgsError(f"{path}.{bound}: must be a number")
    for bound in ("minLength", "maxLength", "maxItems"):
        value = schema.get(bound, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ArgsError(f"{path}.{bound}: must be a non-negative integer")
    return schema


def _has_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return json_type(value) == "number" and float(value).is_integer()
    return json_type(value) == kind


def schema_problem(schema: dict[str, Any], value: Any, path: str = "args") -> str | None:
    """The first way ``value`` fails ``schema`` (a checked one), or ``None``."""
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_has_type(value, k) for k in kinds):
            return f"{path}: must be {' or '.join(kinds)}"
    if "const" in schema and canonical_json(value) != canonical_json(schema["const"]):
        return f"{path}: must be the constant"
    if "enum" in schema and canonical_json(value) not in {
        canonical_json(option) for option in schema["enum"]
    }:
        return f"{path}: not one of the enum"
    if json_type(value) == "number":
        if "minimum" in schema and value < schema["minimum"]:
            return f"{path}: below the minimum"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{path}: above the maximum"
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return f"{path}: shorter than minLength"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"{path}: longer than maxLength"
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return f"{path}: more than maxItems"
        if "items" in schema:
            for index, item in enumerate(value):
                problem = schema_problem(schema["items"], item, f"{path}[{index}]")
                if problem:
                    return problem
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                return f"{path}.{name[:40]}: required"
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            sub = properties.get(key)
            if sub is None:
                if extra is False:
                    return f"{path}.{key[:40]}: not allowed"
                if extra is True:
                    continue
                sub = extra
            problem = schema_problem(sub, item, f"{path}.{key[:40]}")
            if problem:
                return problem
    return None


def shape_problem(original: Any, edited: Any, path: str = "args") -> str | None:
    """The first way ``edited`` differs in shape from ``original``, or ``None``."""
    if json_type(original) != json_type(edited):
        return f"{path}: must stay {json_type(original)}"
    if isinstance(original, dict):
        if set(original) != set(edited):
            changed = sorted(set(original) ^ set(edited))[0]
            return f"{path}.{changed[:40]}: keys must stay the same"
        for key in original:
            problem = shape_problem(original[key], edited[key], f"{path}.{key[:40]}")
            if problem:
                return problem
    return None


def edit_problem(
    original: dict[str, Any] | None, edited: Any, schema: dict[str, Any] | None
) -> str | None:
    """Why ``edited`` may not replace ``original`` (the edit rule), or ``None``."""
    if original is None:
        return "the request has no args to edit"
    try:
        check_json_args(edited, "edited_args")
    except ArgsError as error:
        return str(error)
    if schema is not None:
        return schema_problem(schema, edited)
    return shape_problem(original, edited)


def binding_refusal(
    *,
    workspace_id: str,
    action: str,
    args: dict[str, Any] | None,
    args_schema: dict[str, Any] | None,
    request_hash: str,
    approved: bool,
    decision_hash: str | None,
    edited_args: dict[str, Any] | None,
    vote: bool = False,
) -> str | None:
    """``HASH_MISMATCH``, ``HASH_MISSING``, ``EDIT_INVALID``, ``EDITS_NEED_ONE_DECIDER``
    (``vote``: a vote of a request that counts votes) or ``None`` (the binding rule)."""
    if vote and edited_args is not None:
        return EDITS_NEED_ONE_DECIDER
    if edited_args is not None:
        if not approved or edit_problem(args, edited_args, args_schema) is not None:
            return EDIT_INVALID
        if decision_hash != action_hash(workspace_id, action, edited_args):
            return HASH_MISMATCH if decision_hash is not None else HASH_MISSING
        return None
    if decision_hash is not None:
        return None if decision_hash == request_hash else HASH_MISMATCH
    if args is not None and approved:
        return HASH_MISSING
    return None


__all__ = [
    "EDITS_NEED_ONE_DECIDER",
    "EDIT_INVALID",
    "HASH_MISMATCH",
    "HASH_MISSING",
    "binding_refusal",
    "check_schema",
    "edit_problem",
    "json_type",
    "schema_problem",
    "shape_problem",
]
