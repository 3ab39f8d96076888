"""The binding rule and the edit rule (durable_approvals/binding.py), ``covers``, DecisionRules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from durable_approvals.action_hash import ArgsError, action_hash
from durable_approvals.binding import (
    EDIT_INVALID,
    HASH_MISMATCH,
    HASH_MISSING,
    binding_refusal,
    check_schema,
    edit_problem,
)
from durable_approvals.models import ApprovalRequest, ApprovalResult, ApprovalStatus, Decision
from durable_approvals.workflows.args_binding import ArgsBinding
from durable_approvals.workflows.decision_rules import DecisionRules, Verdict

WS, ACTION = "ws-test", "drop table users"
ARGS = {"db": "staging", "dry_run": False, "tables": ["users"]}
SCHEMA = {
    "type": "object",
    "properties": {
        "db": {"type": "string", "enum": ["staging", "prod"]},
        "dry_run": {"type": "boolean"},
        "tables": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "limit": {"type": "integer", "minimum": 1},
    },
    "required": ["db", "dry_run"],
    "additionalProperties": False,
}
HASH = action_hash(WS, ACTION, ARGS)


def request(**overrides) -> ApprovalRequest:
    fields = {"workspace_id": WS, "action": ACTION, "args": ARGS, **overrides}
    return ApprovalRequest(**fields)


def decision(**overrides) -> Decision:
    return Decision(**{"approval_id": "a-1", "approved": True, "decided_by": "bob", **overrides})


def refusal(req: ApprovalRequest, dec: Decision) -> str | None:
    return ArgsBinding.of(req)(dec)


# --- the binding rule ------------------------------------------------------------


def test_an_approval_naming_the_hash_is_bound():
    assert refusal(request(), decision(action_hash=HASH)) is None


def test_an_approval_naming_another_hash_is_a_mismatch():
    other = action_hash(WS, ACTION, {**ARGS, "db": "prod"})
    assert refusal(request(), decision(action_hash=other)) == HASH_MISMATCH


def test_an_approval_without_a_hash_is_refused_when_the_request_has_args():
    assert refusal(request(), decision()) == HASH_MISSING


def test_a_denial_without_a_hash_is_accepted_one_with_another_hash_is_not():
    assert refusal(request(), decision(approved=False)) is None
    assert refusal(request(), decision(approved=False, action_hash="0" * 64)) == HASH_MISMATCH


def test_a_request_without_args_keeps_todays_rule():
    plain = request(args=None)
    assert refusal(plain, decision()) is None
    assert refusal(plain, decision(action_hash=action_hash(WS, ACTION, None))) is None
    assert refusal(plain, decision(action_hash=HASH)) == HASH_MISMATCH
    assert refusal(plain, decision(edited_args={"x": 1})) == EDIT_INVALID


def test_edits_with_their_hash_are_bound():
    edited = {**ARGS, "dry_run": True}
    edit = decision(edited_args=edited, action_hash=action_hash(WS, ACTION, edited))
    assert refusal(request(), edit) is None
    assert ArgsBinding.of(request()).approved_args(edit) == (edited, edit.action_hash)


def test_edits_under_the_original_hash_are_a_mismatch():
    edited = {**ARGS, "dry_run": True}
    assert refusal(request(), decision(edited_args=edited, action_hash=HASH)) == HASH_MISMATCH
    assert refusal(request(), decision(edited_args=edited)) == HASH_MISSING


def test_edits_on_a_denial_are_invalid():
    edited = {**ARGS, "dry_run": True}
    edit = decision(approved=False, edited_args=edited, action_hash=action_hash(WS, ACTION, edited))
    assert refusal(request(), edit) == EDIT_INVALID


# --- the edit rule ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("edited", "problem"),
    [
        ({**ARGS, "dry_run": True}, None),
        ({**ARGS, "tables": []}, None),  # array items are free
        ({**ARGS, "dry_run": "yes"}, "args.dry_run: must stay boolean"),
        ({"db": "staging", "dry_run": True}, "args.tables: keys must stay the same"),
        ({**ARGS, "extra": 1}, "args.extra: keys must stay the same"),
    ],
)
def test_without_a_schema_edits_keep_the_shape(edited, problem):
    assert edit_problem(ARGS, edited, None) == problem


@pytest.mark.parametrize(
    ("edited", "problem"),
    [
        ({"db": "prod", "dry_run": True}, None),  # tables may go: not required
        ({"db": "staging", "dry_run": True, "limit": 5}, None),  # limit may come
        ({"db": "qa", "dry_run": True}, "args.db: not one of the enum"),
        ({"db": "staging"}, "args.dry_run: required"),
        ({"db": "staging", "dry_run": True, "x": 1}, "args.x: not allowed"),
        ({"db": "staging", "dry_run": True, "limit": 0}, "args.limit: below the minimum"),
        ({"db": "staging", "dry_run": True, "limit": 1.5}, "args.limit: must be integer"),
        ({"db": "staging", "dry_run": True, "tables": [1]}, "args.tables[0]: must be string"),
        (
            {"db": "staging", "dry_run": True, "tables": ["a"] * 4},
            "args.tables: more than maxItems",
        ),
    ],
)
def test_with_a_schema_edits_satisfy_it(edited, problem):
    assert edit_problem(ARGS, edited, SCHEMA) == problem


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"type": "object", "oneOf": []}, "unsupported keyword 'oneOf'"),
        ({"type": "thing"}, "must name JSON types"),
        ({"properties": []}, "must be an object"),
        ({"required": "db"}, "array of names"),
        ({"properties": {"x": {"pattern": "a"}}}, "unsupported keyword 'pattern'"),
        ({"maxLength": -1}, "non-negative integer"),
        ([], "must be a JSON object"),
    ],
)
def test_schemas_outside_the_subset_are_refused(schema, problem):
    with pytest.raises(ArgsError, match=problem):
        check_schema(schema)


def test_a_request_whose_args_fail_its_schema_is_refused():
    with pytest.raises(ValidationError, match="args do not satisfy args_schema"):
        request(args={"db": "qa", "dry_run": False}, args_schema=SCHEMA)
    with pytest.raises(ValidationError, match="args_schema needs args"):
        request(args=None, args_schema=SCHEMA)


def test_binding_refusal_is_the_same_function_the_platform_uses():
    assert (
        binding_refusal(
            workspace_id=WS,
            action=ACTION,
            args=ARGS,
            args_schema=None,
            request_hash=HASH,
            approved=True,
            decision_hash=None,
            edited_args=None,
        )
        == HASH_MISSING
    )


# --- covers -------------------------------------------------------------------------


def granted(args, hash_) -> ApprovalResult:
    return ApprovalResult(
        approved=True, status=ApprovalStatus.GRANTED, workspace_id=WS, args=args, action_hash=hash_
    )


def test_covers_the_approved_args_only():
    edited = {**ARGS, "dry_run": True}
    result = granted(edited, action_hash(WS, ACTION, edited))
    assert result.covers(ACTION, edited)
    assert result.covers(ACTION, {"tables": ["users"], "dry_run": True, "db": "staging"})
    assert not result.covers(ACTION, ARGS)
    assert not result.covers("drop table orders", edited)
    assert not result.covers(ACTION, {"n": float("nan")})  # not JSON: covers nothing


def test_covers_nothing_when_not_granted_or_unbound():
    denied = ApprovalResult(
        approved=False, status=ApprovalStatus.DENIED, workspace_id=WS, args=ARGS, action_hash=HASH
    )
    assert not denied.covers(ACTION, ARGS)
    assert not ApprovalResult(approved=True, status=ApprovalStatus.GRANTED).covers(ACTION, ARGS)


# --- DecisionRules with the binding ---------------------------------------------------


def test_rules_refuse_a_mismatch_then_take_the_matching_decision():
    rules = DecisionRules(requester="alice", approval_id="a-1", binding=ArgsBinding.of(request()))
    assert rules.offer(decision(action_hash="f" * 64)) is Verdict.REFUSED
    assert rules.decision is None
    assert [r.because for r in rules.refusals] == [HASH_MISMATCH]
    assert rules.offer(decision(action_hash=HASH)) is Verdict.TAKEN
    # The platform's copy of the taken decision (no hash, upstream) is the same answer.
    assert rules.offer(decision(source="polling")) is Verdict.REPEATED


def test_bad_decisions_are_refused_by_the_models():
    with pytest.raises(ValidationError):
        decision(action_hash="ABC")
    with pytest.raises(ValidationError):
        decision(edited_args={"n": float("inf")})


def test_a_vote_follows_the_binding_rule_and_carries_no_edits():
    from durable_approvals.action_hash import action_hash as hash_of
    from durable_approvals.binding import EDITS_NEED_ONE_DECIDER, binding_refusal

    args = {"db": "staging"}
    request_hash = hash_of("ws", "act", args)
    edited = {"db": "prod"}
    common = {"workspace_id": "ws", "action": "act", "args": args, "args_schema": None}
    common["request_hash"] = request_hash

    def refusal(**fields):
        return binding_refusal(**common, **{"edited_args": None, **fields}, vote=True)

    assert refusal(approved=True, decision_hash=request_hash) is None
    assert refusal(approved=True, decision_hash=None) == "hash-missing"
    assert refusal(approved=False, decision_hash=None) is None
    assert refusal(approved=True, decision_hash="0" * 64) == "hash-mismatch"
    bound_edit = {"decision_hash": hash_of("ws", "act", edited), "edited_args": edited}
    assert refusal(approved=True, **bound_edit) == EDITS_NEED_ONE_DECIDER
    # the same edits from one decider (not a vote) are fine
    assert binding_refusal(**common, approved=True, **bound_edit) is None
