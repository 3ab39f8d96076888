"""Properties of the args binding (durable_approvals/binding.py, durable_approvals/edits.py):
RFC 7386 merge patch, the edit rule (same shape, or the schema subset), the binding of a
decision to the hash it names, and ``ApprovalResult.covers``."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from durable_approvals.action_hash import ArgsError, action_hash, check_json_args, merge_patch
from durable_approvals.binding import (
    EDIT_INVALID,
    EDITS_NEED_ONE_DECIDER,
    HASH_MISMATCH,
    HASH_MISSING,
    binding_refusal,
    check_schema,
    schema_problem,
    shape_problem,
)
from durable_approvals.edits import approved_args, bound_decision
from durable_approvals.models import ApprovalRequest, ApprovalResult, ApprovalStatus
from durable_approvals.workflows.args_binding import ArgsBinding
from tests.properties.strategies import any_json, json_key, json_objects, json_values, keys

# --- RFC 7386 -------------------------------------------------------------------------

# RFC 7386, Appendix A (original, patch, result), and the example of section 3.
RFC_7386_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    (
        {
            "title": "Goodbye!",
            "author": {"givenName": "John", "familyName": "Doe"},
            "tags": ["example", "sample"],
            "content": "This will be unchanged",
        },
        {
            "title": "Hello!",
            "phoneNumber": "+01-123-456-7890",
            "author": {"familyName": None},
            "tags": ["example"],
        },
        {
            "title": "Hello!",
            "author": {"givenName": "John"},
            "tags": ["example"],
            "content": "This will be unchanged",
            "phoneNumber": "+01-123-456-7890",
        },
    ),
]


@pytest.mark.parametrize(("original", "patch", "result"), RFC_7386_EXAMPLES)
def test_rfc_7386_examples(original, patch, result):
    assert merge_patch(original, patch) == result


def without_null_members(value: Any) -> Any:
    """``value`` with every object member whose value is null removed (arrays kept whole)."""
    if isinstance(value, dict):
        return {k: without_null_members(v) for k, v in value.items() if v is not None}
    return value


@given(json_values(), json_values())
def test_merge_patch_laws(target, patch):
    before = copy.deepcopy((target, patch))
    result = merge_patch(target, patch)
    assert (target, patch) == before  # neither argument is changed
    if not isinstance(patch, dict):
        assert result == patch  # a patch that is not an object replaces the target
        return
    base = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            assert key not in result  # null removes
        else:
            assert result[key] == merge_patch(base.get(key), value)
    for key in base.keys() - patch.keys():
        assert result[key] == base[key]  # what the patch does not name stays
    assert merge_patch(result, patch) == result  # idempotent
    assert merge_patch({}, patch) == without_null_members(patch)


@given(json_objects())
def test_an_empty_patch_changes_nothing(target):
    assert merge_patch(target, {}) == target


# --- the edit rule ----------------------------------------------------------------------


def schema_of(value: Any) -> dict[str, Any]:
    """The schema (in the supported subset) that says what ``shape_problem`` says: the
    same keys all the way down, each value of the same JSON type, array items free."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int | float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array"}
    return {
        "type": "object",
        "properties": {k: schema_of(v) for k, v in value.items()},
        "required": list(value),
        "additionalProperties": False,
    }


def reshaped(value: Any, rnd: random.Random) -> Any:
    """``value`` with its scalars and arrays replaced, now and then by another type."""
    if isinstance(value, dict):
        edited = {k: reshaped(v, rnd) for k, v in value.items()}
        if rnd.random() < 0.1:
            edited["extra"] = 1
        if value and rnd.random() < 0.1:
            edited.pop(rnd.choice(list(value)))
        return edited
    return rnd.choice([value, 0, 2.5, "", "x", None, True, [], [1, "a"], {}])


@given(json_objects(), st.randoms(use_true_random=False))
def test_the_shape_schema_and_the_shape_rule_agree(original, rnd):
    edited = reshaped(original, rnd)
    schema = schema_of(original)
    assert check_schema(schema) is schema
    assert shape_problem(original, original) is None
    assert schema_problem(schema, original) is None
    same = shape_problem(original, edited) is None
    assert (schema_problem(schema, edited) is None) == same
    assert (shape_problem(edited, original) is None) == same  # symmetric


schema_like = st.recursive(
    st.dictionaries(
        st.sampled_from(["type", "enum", "const", "minimum", "maximum", "minLength", "maxItems"])
        | keys,
        any_json,
        max_size=3,
    ),
    lambda inner: st.dictionaries(
        st.sampled_from(["properties", "items", "additionalProperties", "required", "type"]),
        inner | st.dictionaries(keys, inner, max_size=2) | any_json,
        max_size=3,
    ),
    max_leaves=8,
)


@given(schema_like | st.dictionaries(keys, any_json, max_size=3), any_json)
def test_any_schema_is_refused_cleanly_or_checks_any_value(schema, value):
    try:
        check_schema(schema)
    except ArgsError:
        return
    problem = schema_problem(schema, value)
    assert problem is None or isinstance(problem, str)


# --- the binding rule and covers ------------------------------------------------------------


def request(args: dict[str, Any] | None, schema: dict[str, Any] | None = None) -> ApprovalRequest:
    return ApprovalRequest(workspace_id="ws", action="deploy", args=args, args_schema=schema)


@given(json_objects(), json_objects(), st.booleans())
def test_a_bound_decision_is_taken_exactly_when_its_edit_keeps_the_shape(args, edit, use_schema):
    edit = without_null_members(edit)  # a null in a merge patch deletes: not an edit of a value
    try:
        req = request(args, schema_of(args) if use_schema else None)
        decision = bound_decision(
            workspace_id="ws",
            action="deploy",
            args=args,
            approval_id="a-1",
            approved=True,
            decided_by="alice",
            edit=edit,
        )
    except (ArgsError, ValueError):
        assume(False)
        raise
    edited = merge_patch(args, edit)
    assert decision.edited_args == edited == approved_args(args, edit)
    refusal = ArgsBinding.of(req)(decision)
    assert (refusal is None) == (shape_problem(args, edited) is None)
    assert refusal in (None, EDIT_INVALID)


@given(json_objects(), json_objects(), st.booleans())
def test_a_decision_names_the_hash_it_decides(args, other, approved):
    req = request(args)
    binding = ArgsBinding.of(req)
    assert binding.request_hash == req.action_hash()
    kwargs = {
        "workspace_id": "ws",
        "action": "deploy",
        "args": args,
        "args_schema": None,
        "request_hash": req.action_hash(),
        "approved": approved,
        "edited_args": None,
    }
    assert binding_refusal(**kwargs, decision_hash=req.action_hash()) is None
    other_hash = action_hash("ws", "deploy", other)
    expected = None if json_key(other) == json_key(args) else HASH_MISMATCH
    assert binding_refusal(**kwargs, decision_hash=other_hash) == expected
    missing = binding_refusal(**kwargs, decision_hash=None)
    assert missing == (HASH_MISSING if approved else None)  # a denial may omit the hash
    with_edits = {**kwargs, "edited_args": args}
    assert binding_refusal(**with_edits, decision_hash=req.action_hash(), vote=True) == (
        EDITS_NEED_ONE_DECIDER
    )
    if not approved:
        assert binding_refusal(**with_edits, decision_hash=req.action_hash()) == EDIT_INVALID


def shuffled_copy(value: Any, rnd: random.Random) -> Any:
    """``value`` with every object's members in another order (the same JSON value)."""
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: shuffled_copy(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [shuffled_copy(v, rnd) for v in value]
    return value


@given(json_objects(), json_objects(), st.randoms(use_true_random=False))
def test_covers_exactly_the_approved_args(args, other, rnd):
    granted = ApprovalResult(
        approved=True,
        status=ApprovalStatus.GRANTED,
        workspace_id="ws",
        args=args,
        action_hash=action_hash("ws", "deploy", args),
    )
    assert granted.covers("deploy", args)
    assert granted.covers("deploy", shuffled_copy(args, rnd))
    assert granted.covers("deploy", json.loads(json.dumps(args)))
    assert granted.covers("deploy", other) == (json_key(other) == json_key(args))
    assert not granted.covers("deploy ", args)
    assert not granted.covers("deploy", None)
    denied = granted.model_copy(update={"approved": False, "status": ApprovalStatus.DENIED})
    assert not denied.covers("deploy", args)


weird = st.one_of(
    any_json,
    st.floats(),  # nan and infinities
    st.integers(),  # beyond 2^53
    st.tuples(st.integers()),
    st.binary(max_size=4),
    st.dictionaries(st.integers(), st.integers(), max_size=2),
    st.text().map(lambda s: s + "\ud800"),  # a lone surrogate
)


@given(st.dictionaries(keys, weird, max_size=3) | weird)
def test_covers_never_raises_and_refuses_what_is_not_json_args(args):
    granted = ApprovalResult(
        approved=True,
        status=ApprovalStatus.GRANTED,
        workspace_id="ws",
        action_hash=action_hash("ws", "deploy", {"n": 1}),
    )
    result = granted.covers("deploy", args)
    assert isinstance(result, bool)
    try:
        check_json_args(args)
    except ArgsError:
        assert result is False
