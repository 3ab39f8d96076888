"""The decision module's pure parts, without servers: how an ended workflow's result and a
platform's vote reply read as verdicts, what the platform is learned to serve, and the
``Ballot``'s own rules. The routes themselves run for real in tests/test_refusal_table.py."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from durable_approvals.deciding import CONTRACT, REFERENCE, PlatformCapabilities
from durable_approvals.deciding.platform_route import _vote_verdict
from durable_approvals.deciding.verdicts import after_the_end
from durable_approvals.models import (
    ApprovalResult,
    ApprovalState,
    ApprovalStatus,
    Ballot,
    Decision,
    VerdictOutcome,
)
from durable_approvals.platform_client import PlatformClient


def offered(by: str, approved: bool = True) -> Decision:
    return Decision(approval_id="a-1", approved=approved, decided_by=by)


GRANTED = ApprovalResult(
    approved=True, status=ApprovalStatus.GRANTED, approval_id="a-1", decided_by="alice"
)


@pytest.mark.parametrize(
    ("result", "decision", "outcome", "reason"),
    [
        (GRANTED, offered(" ALICE "), VerdictOutcome.REPEATED, "repeated"),
        (GRANTED, offered("alice", approved=False), VerdictOutcome.REFUSED, "conflicting"),
        (GRANTED, offered("bob"), VerdictOutcome.REFUSED, "conflicting"),
        (
            GRANTED.model_copy(update={"decided_by": "bob", "approvers": ["alice", "bob"]}),
            offered("Alice"),
            VerdictOutcome.REPEATED,
            "repeated",
        ),
        (
            ApprovalResult(approved=False, status=ApprovalStatus.TIMEOUT, approval_id="a-1"),
            offered("alice"),
            VerdictOutcome.REFUSED,
            "late",
        ),
        (None, offered("alice"), VerdictOutcome.REFUSED, "late"),
    ],
)
def test_an_ended_workflow_answers_repeated_conflicting_or_late(result, decision, outcome, reason):
    verdict = after_the_end(result, decision)
    assert (verdict.outcome, verdict.reason, verdict.state) == (
        outcome,
        reason,
        ApprovalState.CLOSED,
    )
    assert verdict.accepted is (outcome is VerdictOutcome.REPEATED)


def test_a_conflicting_verdict_names_the_decision_taken():
    verdict = after_the_end(GRANTED, offered("bob", approved=False))
    assert verdict.decision is not None
    assert (verdict.decision.decided_by, verdict.decision.approved) == ("alice", True)


VOTE_ITEM = {
    "approvals_required": 3,
    "votes": [{"decided_by": "alice", "decision": "approved"}],
}


@pytest.mark.parametrize(
    ("decision", "required", "outcome", "votes"),
    [
        (offered("bob"), 3, VerdictOutcome.COUNTED, 2),
        (offered("bob"), 2, VerdictOutcome.TAKEN, 2),
        (offered("ALICE"), 3, VerdictOutcome.REPEATED, 0),
        (offered("carol", approved=False), 3, VerdictOutcome.TAKEN, 1),
    ],
)
def test_a_vote_on_the_platform_reads_as_the_tally_counts_it(decision, required, outcome, votes):
    reply = {"status": "pending", "votes": 2, "approvals_required": required}
    verdict = _vote_verdict(decision, VOTE_ITEM, reply)
    assert verdict.accepted and verdict.outcome is outcome
    if outcome is not VerdictOutcome.REPEATED:
        assert (verdict.votes, verdict.approvals_required) == (votes, required)


async def test_the_capabilities_are_what_the_single_item_route_showed():
    async with httpx.AsyncClient() as http:
        platform = PlatformClient(http=http, base_url="http://127.0.0.1:1", workspace_id="ws")
        assert PlatformCapabilities.learned(platform) is None
        platform._single_item_route = False
        assert PlatformCapabilities.learned(platform) == CONTRACT
        platform._single_item_route = True
        assert PlatformCapabilities.learned(platform) == REFERENCE
    assert REFERENCE.answers_for_the_workflow and not CONTRACT.answers_for_the_workflow


@pytest.mark.parametrize(
    "fields",
    [
        {"approved": False, "edit": {"dry_run": True}},
        {"approved": True, "edit": {"a": 1}, "edited_args": {"a": 1}},
        {"approved": True, "approval_id": "no/slash"},
    ],
)
def test_a_ballot_refuses_what_cannot_be_a_decision(fields):
    with pytest.raises(ValidationError):
        Ballot(**{"approval_id": "a-1", **fields})


def test_a_ballot_never_shows_its_credential():
    ballot = Ballot(approval_id="a-1", approved=True, approver_token="s3cr3t-t0ken")
    assert "s3cr3t-t0ken" not in repr(ballot) and "s3cr3t-t0ken" not in ballot.model_dump_json()


def test_the_verdicts_use_the_workflow_rules_words():
    from durable_approvals.deciding import verdicts
    from durable_approvals.workflows import decision_rules

    for name in ("UNKNOWN_APPROVAL", "LATE", "CONFLICTING", "REPEATED"):
        assert getattr(verdicts, name) == getattr(decision_rules, name)
