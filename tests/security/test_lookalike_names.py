"""Look-alike and invisible characters in decider names change nobody's identity:
``\u0430lice`` (Cyrillic a) and ``al\\u200bice`` are alice, for the self-approval rule, the
approver group and the distinct deciders of a vote (durable_approvals/identity.py).

The rules without Temporal, then one run through the real workflow and the reference
platform, where both must refuse it.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from durable_approvals.identity import SELF_APPROVAL, identity_key, is_self_decision
from durable_approvals.models import ApprovalStatus, Decision
from durable_approvals.workflows.approval import ApprovalWorkflow
from durable_approvals.workflows.decision_rules import DecisionRules, Verdict
from durable_approvals.workflows.votes import NOT_IN_GROUP, Tally, VoteVerdict
from tests.helpers import (
    WORKSPACE,
    approval_request,
    audit_records,
    eventually,
    finish,
    platform_client,
    running_worker,
    start,
    wait_pending,
)

APPROVAL = "a-1"
LIMIT = 60.0

ALICE_LOOKALIKES = [
    "\u0430lice",  # Cyrillic a
    "al\u200bice",  # zero-width space
    "\u0430l\u0456\u0441\u0435",  # Cyrillic a, i, c, e
    "\uff41lice",  # fullwidth a
    "alic\u0435\u2060",  # Cyrillic e, word joiner
    "\u0391LICE",  # Greek capital alpha
    "ali\u00adce",  # soft hyphen
    "\U0001d41alice",  # mathematical bold a
]


def vote(by: str, approved: bool = True) -> Decision:
    return Decision(approval_id=APPROVAL, approved=approved, decided_by=by)


@pytest.mark.parametrize("name", ALICE_LOOKALIKES, ids=ascii)
def test_a_lookalike_of_the_requester_is_refused_as_self_approval(name):
    rules = DecisionRules(requester="alice", approval_id=APPROVAL)
    assert is_self_decision("alice", name) and identity_key(name) == "alice"
    assert rules.offer(vote(name)) is Verdict.REFUSED
    assert [r.because for r in rules.refusals] == [SELF_APPROVAL]
    assert rules.decision is None


@pytest.mark.parametrize("name", ALICE_LOOKALIKES, ids=ascii)
def test_a_lookalike_of_a_voter_is_not_a_second_vote(name):
    votes = Tally(DecisionRules(requester="agent", approval_id=APPROVAL), required=2)
    assert votes.offer(vote("alice")) is VoteVerdict.COUNTED
    assert votes.offer(vote(name)) is VoteVerdict.REPEATED
    assert votes.rules.decision is None and votes.approvers == ["alice"]


def test_a_lookalike_of_a_group_member_votes_as_that_member():
    votes = Tally(DecisionRules(requester="agent", approval_id=APPROVAL), 1, "admins")
    votes.set_members(["bob"])
    assert votes.offer(vote("b\u043eb")) is VoteVerdict.DECIDED  # folded: a member
    assert identity_key("b\u043eb") == "bob"
    other = Tally(DecisionRules(requester="agent", approval_id=APPROVAL), 1, "admins")
    other.set_members(["b\u043eb"])  # a config naming the look-alike names bob
    assert other.offer(vote("mallory")) is VoteVerdict.REFUSED
    assert [r.because for r in other.rules.refusals] == [NOT_IN_GROUP]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("bob", "rob"),
        ("ali", "all"),
        ("\u0412\u043e\u0432\u0430", "\u0412\u0435\u0440\u0430"),
        ("anna", "hanna"),
        ("alice", "alicé"),
    ],
)
def test_different_names_stay_different(one, other):
    assert identity_key(one) != identity_key(other)


def test_case_and_blanks_fold_in_every_script():
    assert identity_key(" \u0412\u043e\u0432\u0430 ") == identity_key("\u0432\u043e\u0432\u0430")
    assert identity_key("STRASSE") == identity_key("Straße")
    assert identity_key("Ёлка") == identity_key("ёлка")


async def test_the_workflow_and_the_platform_refuse_a_lookalike_of_the_requester(
    dev_env, settings, platform
):
    """The reference platform answers 403 to ``\u0430lice``; a signal carrying ``al\\u200bice``
    reaches the workflow, which refuses it as self-approval; bob then decides."""
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, approval_request(requester="alice"))
        approval_id = await wait_pending(handle)
        async with platform_client(settings) as api, asyncio.timeout(LIMIT):
            async with httpx.AsyncClient(base_url=platform.url, timeout=5.0) as http:
                refused = await http.post(
                    f"/workspaces/{WORKSPACE}/approvals/{approval_id}/decide",
                    json={"decision": "approved", "decided_by": "\u0430lice"},
                )
            zero_width = Decision(approval_id=approval_id, approved=True, decided_by="al\u200bice")
            await handle.signal(ApprovalWorkflow.decide, zero_width)

            async def rejected() -> bool:
                return [r["outcome"] for r in audit_records(settings)] == [
                    "requested",
                    "rejected",
                ]

            await eventually(rejected)
            await api.decide(approval_id, approved=False, decided_by="bob")
        result = await finish(handle, "lookalike_self_approval_refused")

    assert refused.status_code == 403 and refused.json()["reason"] == SELF_APPROVAL
    assert result.status is ApprovalStatus.DENIED and result.decided_by == "bob"
    rejected_record = audit_records(settings)[1]
    assert rejected_record["rejected_because"] == SELF_APPROVAL
