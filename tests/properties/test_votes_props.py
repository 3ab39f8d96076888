"""Properties of the N-of-M tally (workflows/votes.py), without Temporal.

What holds, stated against a model: in arrival order, the votes that count are those for
this approval, not the requester's, from a group member (when a group is named), while
the request is open. The first counted denial denies; else the ``required``-th distinct
approver grants, and is the decision's ``decided_by``. So for votes that are all
approvals, whether it is granted does not depend on their order (who is named does);
with a denial, the order decides whether the requirement was reached before it.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from durable_approvals.models import Decision
from durable_approvals.workflows.decision_rules import DecisionRules
from durable_approvals.workflows.votes import Tally, VoteVerdict
from tests.properties.strategies import APPROVAL, NAMES, decisions, spellings, spelt


def key(name: str) -> str:
    return spelt(name)  # the person a spelling names, whatever the spelling


@st.composite
def elections(draw: st.DrawFn) -> tuple[str, int, list[str] | None, list[Decision]]:
    """A requester, ``required``, the group (or none) and the votes in arrival order."""
    requester = draw(spellings(NAMES))
    required = draw(st.integers(1, 4))
    group = draw(st.none() | st.lists(spellings(NAMES), max_size=5))
    votes = draw(st.lists(decisions(), max_size=12))
    return requester, required, group, votes


def tally(requester: str, required: int, group: list[str] | None) -> Tally:
    votes = Tally(DecisionRules(requester=requester, approval_id=APPROVAL), required)
    if group is not None:
        votes.group = "admins"
        votes.set_members(group)
    return votes


def model(
    requester: str, required: int, group: list[str] | None, votes: list[Decision]
) -> Decision | None:
    members = None if group is None else {key(name) for name in group if key(name)}
    approvers: set[str] = set()
    for vote in votes:
        who = key(vote.decided_by)
        if vote.approval_id != APPROVAL or who == key(requester):
            continue
        if members is not None and who not in members:
            continue
        if not vote.approved:
            return vote
        approvers.add(who)
        if len(approvers) == required:
            return vote
    return None


def offer_all(votes: Tally, decisions_: list[Decision]) -> list[VoteVerdict]:
    verdicts = []
    for decision in decisions_:
        before = votes.rules.decision
        verdicts.append(votes.offer(decision))
        if before is not None:  # decided: nothing flips it
            assert votes.rules.decision is before
    return verdicts


@given(elections())
def test_the_outcome_is_the_model(election):
    requester, required, group, decisions_ = election
    votes = tally(requester, required, group)
    offer_all(votes, decisions_)
    assert votes.rules.decision is model(requester, required, group, decisions_)


@given(elections())
def test_only_eligible_distinct_deciders_count(election):
    requester, required, group, decisions_ = election
    votes = tally(requester, required, group)
    offer_all(votes, decisions_)
    counted = [key(v.decided_by) for v in votes.votes]
    assert key(requester) not in counted  # the requester never counts
    if group is not None:
        assert set(counted) <= {key(name) for name in group}  # members only
    approvers = [key(name) for name in votes.approvers]
    assert len(approvers) == len(set(approvers))  # distinct deciders
    assert len(approvers) <= required
    decision = votes.rules.decision
    if decision is not None and decision.approved:
        assert len(approvers) == required
        assert key(decision.decided_by) == approvers[-1]
    if decision is None:
        assert all(v.approved for v in votes.votes)  # any counted denial would have denied


@given(elections(), st.randoms(use_true_random=False))
def test_granting_does_not_depend_on_the_order_of_approvals(election, random):
    requester, required, group, decisions_ = election
    approvals = [d for d in decisions_ if d.approved]
    shuffled = approvals[:]
    random.shuffle(shuffled)
    outcomes = []
    for order in (approvals, shuffled):
        votes = tally(requester, required, group)
        offer_all(votes, order)
        outcomes.append(votes.rules.decision is not None)
    assert outcomes[0] == outcomes[1]


@given(elections(), st.randoms(use_true_random=False))
def test_too_few_approvers_and_a_denial_deny_in_every_order(election, random):
    requester, required, group, decisions_ = election
    eligible = [d for d in decisions_ if model(requester, 1, group, [d]) is d]
    approvers = {key(d.decided_by) for d in eligible if d.approved}
    shuffled = decisions_[:]
    random.shuffle(shuffled)
    votes = tally(requester, required, group)
    offer_all(votes, shuffled)
    decision = votes.rules.decision
    if any(not d.approved for d in eligible) and len(approvers) < required:
        assert decision is not None and not decision.approved
    if not eligible:
        assert decision is None


@given(elections(), decisions())
def test_check_agrees_with_offer(election, decision):
    requester, required, group, decisions_ = election
    votes = tally(requester, required, group)
    offer_all(votes, decisions_)
    counted, refusals = list(votes.votes), list(votes.rules.refusals)
    because = votes.check(decision)
    assert (votes.votes, votes.rules.refusals) == (counted, refusals)
    verdict = votes.offer(decision)
    if because is None:
        assert verdict in (VoteVerdict.COUNTED, VoteVerdict.DECIDED, VoteVerdict.REPEATED)
    else:
        assert verdict in (VoteVerdict.REFUSED, VoteVerdict.REPEATED)
