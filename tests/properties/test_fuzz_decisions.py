"""Fuzzing decision payloads: the ``Decision`` model, the data converter that decodes
it in a worker, and the pure checks behind the ``decide_update`` validator
(``DecisionRules.check``, ``Tally.check`` with the args binding).

Malformed input is refused with the documented typed error (``ValidationError`` from the
model, ``ApplicationError`` typed ``PayloadValidationError`` from the converter), and a
decision the checks let through for a request with args names the hash of what it
approves: the request's args, or edits of the same shape.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.exceptions import ApplicationError

from durable_approvals import errors
from durable_approvals.action_hash import action_hash
from durable_approvals.binding import shape_problem
from durable_approvals.converter import data_converter
from durable_approvals.models import ApprovalRequest, Decision, DecisionSource
from durable_approvals.workflows.args_binding import ArgsBinding
from durable_approvals.workflows.decision_rules import DecisionRules, Verdict
from durable_approvals.workflows.votes import Tally, VoteVerdict
from tests.properties.strategies import APPROVAL, any_json, json_objects, spellings

HASH = "ab" * 32
decision_fields = st.fixed_dictionaries(
    {},
    optional={
        "approval_id": st.sampled_from([APPROVAL, "", "../x", "a" * 129]) | any_json,
        "approved": st.booleans() | any_json,
        "decided_by": st.text(max_size=20) | st.just("x" * 201) | any_json,
        "comment": st.text(max_size=20) | any_json,
        "decided_at": st.sampled_from(["2026-12-01T00:00:00Z", "noon"]) | any_json,
        "source": st.sampled_from([*DecisionSource, "fax"]) | any_json,
        "action_hash": st.sampled_from([HASH, HASH.upper(), "ab"]) | any_json,
        "edited_args": json_objects(2) | any_json,
        "proof": st.text(max_size=5) | st.just("p" * 201) | any_json,
        "extra": any_json,
    },
)


@given(decision_fields)
def test_the_model_takes_a_decision_or_refuses_it(fields):
    try:
        decision = Decision.model_validate(fields)
    except ValidationError:
        return
    assert decision.approval_id == fields["approval_id"]
    if isinstance(fields["approved"], bool):
        assert decision.approved is fields["approved"]
    assert decision.edited_args == fields.get("edited_args")  # checked JSON args or refused


def payload(data: bytes) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


@given(
    decision_fields.map(lambda f: json.dumps(f).encode())
    | st.binary(max_size=50)
    | st.integers(1, 100_000).map(lambda n: b"[" * n)
)
@example(b'{"approval_id": "a-1", "approved": true, "edited_args": ' + b"[" * 50_000)
def test_the_converter_decodes_a_decision_or_fails_typed(data):
    try:
        (decision,) = data_converter.payload_converter.from_payloads([payload(data)], [Decision])
    except ApplicationError as error:
        assert error.type == errors.PAYLOAD_INVALID and error.non_retryable
        return
    assert isinstance(decision, Decision)
    assert decision == Decision.model_validate_json(data)


valid_decisions = st.builds(
    Decision,
    approval_id=st.sampled_from([APPROVAL, APPROVAL, "a-2"]),
    approved=st.booleans(),
    decided_by=spellings(),
    action_hash=st.none() | st.just(HASH),
    edited_args=st.none() | json_objects(2),
    proof=st.none() | st.text(max_size=10),
)


@st.composite
def bound(draw: st.DrawFn, args: dict[str, Any]) -> Decision:
    """A decision that names a hash it computed itself: of the args, or of edits."""
    edited = draw(st.none() | json_objects(2) | st.just(args))
    return Decision(
        approval_id=APPROVAL,
        approved=draw(st.booleans()),
        decided_by=draw(spellings()),
        action_hash=action_hash("ws", "deploy", edited if edited is not None else args),
        edited_args=edited,
    )


def assert_bound(decision: Decision, args: dict[str, Any], request: ApprovalRequest) -> None:
    """``decision`` names the hash of what it decides (the binding rule)."""
    assert decision.approval_id == APPROVAL
    edited = decision.edited_args
    if decision.approved:
        approves = edited if edited is not None else args
        assert decision.action_hash == action_hash("ws", "deploy", approves)
        assert edited is None or shape_problem(args, edited) is None
    else:
        assert edited is None
        assert decision.action_hash in (None, request.action_hash())


@given(json_objects(2), st.integers(1, 3), st.data())
def test_only_decisions_bound_to_what_they_approve_are_taken(args, required, data):
    request = ApprovalRequest(workspace_id="ws", action="deploy", args=args, requester="agent")
    binding = ArgsBinding.of(request)
    rules = DecisionRules(requester="agent", approval_id=APPROVAL, binding=binding)
    tally = Tally(DecisionRules(requester="agent", approval_id=APPROVAL, binding=binding), required)
    for _ in range(data.draw(st.integers(1, 6))):
        decision = data.draw(valid_decisions | bound(args))
        if rules.check(decision) is None and rules.decision is None:
            assert_bound(decision, args, request)
        if rules.offer(decision) is Verdict.TAKEN:
            assert_bound(decision, args, request)
        counted = len(tally.votes)
        if tally.offer(decision) in (VoteVerdict.COUNTED, VoteVerdict.DECIDED):
            assert len(tally.votes) == counted + 1 and tally.votes[-1] is decision
            assert decision.edited_args is None  # a vote never carries edits
            assert_bound(decision, args, request)
