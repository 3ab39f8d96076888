"""The N-of-M rule (workflows/votes.py), without Temporal: one test per line of the rule."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from durable_approvals.activities.rbac_policy import approver_groups_from_config, policy_from_config
from durable_approvals.errors import APPROVALS_EXCEED_GROUP, UNKNOWN_APPROVER_GROUP
from durable_approvals.identity import SELF_APPROVAL
from durable_approvals.models import ApprovalRequest, Decision, DecisionSource
from durable_approvals.workflows.decision_rules import (
    CONFLICTING,
    LATE,
    UNKNOWN_APPROVAL,
    DecisionRules,
)
from durable_approvals.workflows.votes import NOT_IN_GROUP, Tally, VoteVerdict

APPROVAL = "a-1"


def tally(required: int = 2, members: list[str] | None = None, requester: str = "agent") -> Tally:
    rules = DecisionRules(requester=requester, approval_id=APPROVAL)
    votes = Tally(rules, required, "prod-admins" if members is not None else None)
    if members is not None:
        votes.set_members(members)
    return votes


def vote(by: str, approved: bool = True, approval_id: str = APPROVAL, **extra) -> Decision:
    return Decision(approval_id=approval_id, approved=approved, decided_by=by, **extra)


def refusals(votes: Tally) -> list[tuple[str, str]]:
    return [(r.decision.decided_by, r.because) for r in votes.rules.refusals]


def test_two_distinct_approvals_grant_and_name_both():
    votes = tally()
    assert votes.offer(vote("alice")) is VoteVerdict.COUNTED
    assert votes.rules.decision is None
    assert votes.offer(vote("bob", comment="ok")) is VoteVerdict.DECIDED
    assert votes.rules.decision == vote("bob", comment="ok")
    assert votes.approvers == ["alice", "bob"]


def test_the_same_approver_twice_counts_once_whatever_the_case_or_path():
    votes = tally()
    votes.offer(vote("alice"))
    again = vote(" ALICE ", source=DecisionSource.WEBSOCKET)
    assert votes.offer(again) is VoteVerdict.REPEATED
    assert votes.rules.decision is None and votes.approvers == ["alice"]
    assert refusals(votes) == []


def test_the_requester_never_counts():
    votes = tally(requester="Agent-7")
    assert votes.offer(vote("agent-7")) is VoteVerdict.REFUSED
    assert refusals(votes) == [("agent-7", SELF_APPROVAL)]
    assert votes.votes == []


def test_a_denial_after_an_approval_denies():
    votes = tally(required=3)
    votes.offer(vote("alice"))
    assert votes.offer(vote("bob", approved=False)) is VoteVerdict.DECIDED
    assert votes.rules.decision is not None and not votes.rules.decision.approved
    assert votes.approvers == ["alice"]


def test_an_approver_may_turn_an_approval_into_a_denial_never_back():
    votes = tally()
    votes.offer(vote("alice"))
    assert votes.offer(vote("alice", approved=False)) is VoteVerdict.DECIDED
    assert votes.rules.decision == vote("alice", approved=False)
    assert votes.offer(vote("alice")) is VoteVerdict.REPEATED  # her approval was counted
    assert votes.offer(vote("carol")) is VoteVerdict.REFUSED
    assert refusals(votes) == [("carol", CONFLICTING)]


def test_only_group_members_count_when_a_group_is_named():
    votes = tally(members=["Alice", "bob", "carol"])
    assert votes.offer(vote("mallory")) is VoteVerdict.REFUSED
    assert refusals(votes) == [("mallory", NOT_IN_GROUP)]
    assert votes.offer(vote("alice")) is VoteVerdict.COUNTED
    assert votes.offer(vote("BOB")) is VoteVerdict.DECIDED
    assert votes.approvers == ["alice", "BOB"]


def test_a_non_member_denial_does_not_deny():
    votes = tally(members=["alice", "bob"])
    assert votes.offer(vote("mallory", approved=False)) is VoteVerdict.REFUSED
    assert votes.rules.decision is None


def test_one_approval_from_a_group_decides():
    votes = tally(required=1, members=["alice"])
    assert votes.offer(vote("alice")) is VoteVerdict.DECIDED


def test_votes_for_another_approval_are_refused():
    votes = tally()
    assert votes.offer(vote("alice", approval_id="a-2")) is VoteVerdict.REFUSED
    assert refusals(votes) == [("alice", UNKNOWN_APPROVAL)]


def test_after_the_wait_votes_are_late_unless_made_in_time():
    votes = tally()
    votes.offer(vote("alice"))
    votes.rules.close()
    assert votes.offer(vote("bob")) is VoteVerdict.REFUSED
    assert refusals(votes) == [("bob", LATE)]
    # the expiry read a decision the platform held in time: it counts, the late copy goes
    assert votes.offer(vote("bob"), made_in_time=True) is VoteVerdict.DECIDED
    assert refusals(votes) == []


def test_a_counted_vote_seen_again_after_the_outcome_is_not_refused():
    votes = tally()
    votes.offer(vote("alice"))
    votes.offer(vote("bob"))
    assert votes.offer(vote("alice", source=DecisionSource.POLLING)) is VoteVerdict.REPEATED
    assert refusals(votes) == []


def test_eligible_deciders_leave_out_the_requester():
    assert tally(members=["alice", "agent", "ALICE"]).eligible_count() == 1
    assert tally().eligible_count() is None


@pytest.mark.parametrize(
    ("fields", "policy"),
    [
        ({}, False),
        ({"approvals_required": 1}, False),
        ({"approvals_required": 2}, True),
        ({"approver_group": "prod-admins"}, True),
    ],
)
def test_which_requests_count_votes(fields, policy):
    request = ApprovalRequest(workspace_id="ws", action="x", **fields)
    assert request.has_vote_policy is policy


def test_approver_groups_come_from_the_workspace_config():
    config = {
        "rbac": {"roles": ["operator"]},
        "approver_groups": {"prod-admins": ["alice", "bob"], "bad": "alice", "empty": []},
    }
    assert approver_groups_from_config(config) == {"prod-admins": ("alice", "bob"), "empty": ()}
    assert policy_from_config(config).approver_groups["prod-admins"] == ("alice", "bob")
    assert policy_from_config({"approver_groups": {"g": ["x"]}}).approver_groups == {"g": ("x",)}


# --- check(): offer's answer without offering (the decide update's validator) ----------

_VOTE_PROBES = [
    vote(by, approved, approval_id)
    for by in ("alice", "BOB", "agent", "mallory")
    for approved in (True, False)
    for approval_id in (APPROVAL, "a-2")
]
_VOTE_HISTORIES = [
    [],
    [vote("alice")],
    [vote("alice"), vote("bob")],
    [vote("bob", approved=False)],
    [vote("alice"), "close"],
    ["close"],
    [vote("agent"), vote("mallory")],
]


@pytest.mark.parametrize("members", [None, ["alice", "bob", "agent"]], ids=["open", "group"])
@pytest.mark.parametrize("steps", _VOTE_HISTORIES, ids=range(len(_VOTE_HISTORIES)))
@pytest.mark.parametrize("probe", _VOTE_PROBES, ids=range(len(_VOTE_PROBES)))
def test_check_is_offers_reason_without_changing_anything(members, steps, probe):
    votes = tally(members=members)
    for step in steps:
        if step == "close":
            votes.rules.close()
        else:
            votes.offer(step)
    before = copy.deepcopy(votes)
    reason = votes.check(probe)
    assert votes == before, "check() changed the tally"
    verdict = votes.offer(probe)
    if verdict in (VoteVerdict.COUNTED, VoteVerdict.DECIDED):
        assert reason is None
    elif verdict is VoteVerdict.REFUSED:
        assert reason == votes.rules.refusals[-1].because
    elif any(
        v.approved == probe.approved and v.decided_by.casefold() == probe.decided_by.casefold()
        for v in before.votes
    ) or (before.rules.decision is not None and before.rules.decision.same_answer(probe)):
        assert reason is None  # counted or taken already
    else:
        assert reason is not None  # a refusal seen again


def test_check_names_each_vote_reason():
    votes = tally(members=["alice", "bob", "agent"])
    assert votes.check(vote("alice", approval_id="a-2")) == UNKNOWN_APPROVAL
    assert votes.check(vote("Agent")) == SELF_APPROVAL
    assert votes.check(vote("mallory")) == NOT_IN_GROUP
    assert votes.check(vote("alice")) is None
    votes.offer(vote("alice"))
    assert votes.check(vote("ALICE")) is None  # counted already: repeated
    votes.offer(vote("bob", approved=False))  # decides: denied
    assert votes.check(vote("alice", approved=False)) == CONFLICTING
    votes.rules.close()
    assert votes.check(vote("alice", approved=False)) == LATE
    assert votes.rules.refusals == []


# --- rule 5b: votes bound to the action hash (args with N-of-M) -------------------------


def bound_tally(group: list[str] | None = None) -> Tally:
    from durable_approvals.workflows.args_binding import ArgsBinding

    request = ApprovalRequest(
        action="drop db",
        reason="rebuilt",
        workspace_id="ws-1",
        requester="agent",
        args={"db": "staging"},
        approvals_required=2,
        approver_group="prod-admins" if group is not None else None,
    )
    votes = tally(members=group)
    votes.rules.binding = ArgsBinding.of(request)
    return votes


def test_votes_naming_the_hash_grant_and_others_are_refused_and_not_counted():
    from durable_approvals.action_hash import action_hash

    votes = bound_tally(group=["alice", "bob", "carol"])
    right = action_hash("ws-1", "drop db", {"db": "staging"})
    other = action_hash("ws-1", "drop db", {"db": "prod"})
    assert votes.offer(vote("alice", action_hash=other)) is VoteVerdict.REFUSED
    assert votes.offer(vote("bob")) is VoteVerdict.REFUSED  # an approval needs the hash
    edited = {"edited_args": {"db": "prod"}, "action_hash": other}
    assert votes.check(vote("carol", **edited)) == "edits-need-one-decider"
    assert votes.offer(vote("carol", **edited)) is VoteVerdict.REFUSED
    assert votes.votes == [] and votes.rules.decision is None
    assert refusals(votes) == [
        ("alice", "hash-mismatch"),
        ("bob", "hash-missing"),
        ("carol", "edits-need-one-decider"),
    ]
    assert votes.offer(vote("alice", action_hash=right)) is VoteVerdict.COUNTED
    assert votes.offer(vote("bob", action_hash=right)) is VoteVerdict.DECIDED
    assert votes.approvers == ["alice", "bob"]


def test_a_denial_vote_needs_no_hash_and_edits_are_refused_without_args_too():
    votes = bound_tally()
    assert votes.check(vote("alice", approved=False)) is None
    assert votes.offer(vote("alice", approved=False)) is VoteVerdict.DECIDED
    plain = tally()
    assert plain.offer(vote("bob", edited_args={"x": 1})) is VoteVerdict.REFUSED
    assert refusals(plain) == [("bob", "edits-need-one-decider")]


def test_a_vote_made_after_the_deadline_is_late_and_counts_for_nothing():
    deadline = datetime(2026, 5, 1, tzinfo=UTC)
    votes = tally()
    votes.rules.deadline = deadline
    votes.rules.clock = lambda: deadline + timedelta(seconds=1)  # the timer's task
    assert votes.check(vote("alice")) == LATE
    assert votes.offer(vote("alice")) is VoteVerdict.REFUSED
    on_time = vote("bob", decided_at=deadline - timedelta(seconds=1), source=DecisionSource.POLLING)
    assert votes.offer(on_time) is VoteVerdict.COUNTED
    assert refusals(votes) == [("alice", LATE)] and votes.approvers == ["bob"]


def test_a_policy_the_group_cannot_meet_is_named_before_anything_is_asked():
    unknown = Tally(DecisionRules(requester="agent"), 2, "prod-admins")
    problem = unknown.policy_problem(None)
    assert problem is not None and problem[0] == UNKNOWN_APPROVER_GROUP
    small = Tally(DecisionRules(requester="agent"), 2, "prod-admins")
    problem = small.policy_problem(["alice", "Agent"])  # the requester never counts
    assert problem is not None and problem[0] == APPROVALS_EXCEED_GROUP
    assert "has 1 possible approver(s)" in problem[1]
    enough = Tally(DecisionRules(requester="agent"), 2, "prod-admins")
    assert enough.policy_problem(["alice", "bob"]) is None
    assert enough.member_names == ["alice", "bob"]
    assert Tally(DecisionRules(requester="agent"), 2).policy_problem(None) is None
