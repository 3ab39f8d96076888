"""N-of-M: which votes count and when they decide. A plain class, tested without Temporal.

The rule (docs/policies/n-of-m.md), in the order ``Tally.offer`` applies it:

1. a vote for another approval: refused, ``unknown approval`` (``DecisionRules``);
2. a decider whose vote with this answer was counted already: ``REPEATED``, counted once
   (names compare as ``approvals.identity`` does: casefolded, blanks ignored);
3. once decided, or late (after the wait is over, or made after the deadline):
   ``DecisionRules`` answers (repeated, late, conflicting);
4. the requester: refused, ``self-approval``;
5. an approver group is named and the decider is not a member: refused,
   ``not in approver group``;
5b. not bound to the request's args (the binding rule, durable_approvals/binding.py, on votes):
   refused with its reason (``hash-mismatch``, ``hash-missing``...); a vote carrying
   edits is refused, ``edits-need-one-decider`` (two approvals of different edits have
   no single meaning), with or without args;
6. a denial: counted, and the request is **denied** (any eligible denial ends it, even
   from a decider who approved before);
7. an approval: counted; the ``required``-th approval from distinct deciders **grants** it,
   and its decider is the result's ``decided_by``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from durable_approvals.binding import EDITS_NEED_ONE_DECIDER
from durable_approvals.errors import APPROVALS_EXCEED_GROUP, UNKNOWN_APPROVER_GROUP
from durable_approvals.identity import NOT_IN_GROUP, SELF_APPROVAL, identity_key, is_self_decision
from durable_approvals.models import Decision
from durable_approvals.workflows.decision_rules import DecisionRules, Verdict


class VoteVerdict(StrEnum):
    COUNTED = "counted"  # a vote that counts; the request is still open
    DECIDED = "decided"  # a vote that counts and ends the request (``rules.decision``)
    REPEATED = "repeated"
    REFUSED = "refused"


@dataclass
class Tally:
    """The votes of one approval, feeding ``rules`` the one decision that ends it."""

    rules: DecisionRules
    required: int = 1
    group: str | None = None
    members: frozenset[str] | None = None
    """Identity keys of the group's members (``approvals.identity.identity_key``); ``None``:
    anyone but the requester may vote."""
    votes: list[Decision] = field(default_factory=list)
    """The counted votes, in arrival order."""
    vote_arrivals: list[int] = field(default_factory=list)
    """Each counted vote's ``rules.stamp()``, the same order as ``votes``."""
    member_names: list[str] = field(default_factory=list)
    """The group's members as the config names them."""

    def set_members(self, names: Iterable[str]) -> None:
        self.member_names = [name for name in names if identity_key(name)]
        self.members = frozenset(identity_key(name) for name in self.member_names)

    def policy_problem(self, group_members: list[str] | None) -> tuple[str, str] | None:
        """(error type, message) when this vote policy can never be met by the approver
        group (``group_members`` from the workspace config; ``None``: not there), else
        ``None``; the group's members are set as a side effect."""
        group, required = self.group, self.required
        if group is None:
            return None
        if group_members is None:
            return UNKNOWN_APPROVER_GROUP, (
                f"unknown approver group {group!r}: not in the workspace config's approver_groups"
            )
        self.set_members(group_members)
        eligible = self.eligible_count() or 0
        if required > eligible:
            return APPROVALS_EXCEED_GROUP, (
                f"{required} approvals required but approver group {group!r} has "
                f"{eligible} possible approver(s) (the requester never counts)"
            )
        return None

    def eligible_count(self) -> int | None:
        """How many distinct deciders may vote (group members but the requester); ``None``:
        no group, no limit."""
        if self.members is None:
            return None
        return len(self.members - {identity_key(self.rules.requester)})

    @property
    def approvers(self) -> list[str]:
        """Who approved, in order (a decider who then denied included)."""
        return [vote.decided_by for vote in self.votes if vote.approved]

    def offer(self, decision: Decision, *, made_in_time: bool = False) -> VoteVerdict:
        """Apply the rule of the module docstring to one vote."""
        rules = self.rules
        if rules.approval_id is None or decision.approval_id != rules.approval_id:
            return _verdict(rules.offer(decision, made_in_time=made_in_time))
        if any(_same_vote(vote, decision) for vote in self.votes):
            return VoteVerdict.REPEATED
        if rules.decision is not None or rules.is_late(decision, made_in_time=made_in_time):
            return _verdict(rules.offer(decision, made_in_time=made_in_time))
        if is_self_decision(rules.requester, decision.decided_by):
            return _verdict(rules.refuse(decision, SELF_APPROVAL))
        if self.members is not None and identity_key(decision.decided_by) not in self.members:
            return _verdict(rules.refuse(decision, NOT_IN_GROUP))
        if (unbound := self.unbound(decision)) is not None:
            return _verdict(rules.refuse(decision, unbound))
        self.votes.append(decision)
        self.vote_arrivals.append(rules.stamp())
        if decision.approved and len(self.approvers) < self.required:
            return VoteVerdict.COUNTED
        rules.offer(decision, made_in_time=made_in_time)
        return VoteVerdict.DECIDED

    def check(self, decision: Decision, *, made_in_time: bool = False) -> str | None:
        """Why ``offer`` would refuse this vote, or ``None``: it would count (or is counted
        already). Pure (the ``decide_update`` validator's check). Stricter than ``offer`` in
        one way: a vote the args binding refuses is refused here before it counts."""
        rules = self.rules
        if rules.approval_id is None or decision.approval_id != rules.approval_id:
            return rules.check(decision, made_in_time=made_in_time)
        if any(_same_vote(vote, decision) for vote in self.votes):
            return None
        if rules.decision is not None or rules.is_late(decision, made_in_time=made_in_time):
            return rules.check(decision, made_in_time=made_in_time)
        if is_self_decision(rules.requester, decision.decided_by):
            return SELF_APPROVAL
        if self.members is not None and identity_key(decision.decided_by) not in self.members:
            return NOT_IN_GROUP
        return self.unbound(decision)

    def unbound(self, decision: Decision) -> str | None:
        """Why the binding rule refuses this vote (rule 5b), or ``None``: a vote with edits
        is ``edits-need-one-decider`` (``binding_refusal(vote=True)``), else the rules'
        ``binding`` answers as for a single decision."""
        if decision.edited_args is not None:
            return EDITS_NEED_ONE_DECIDER
        binding = self.rules.binding
        return binding(decision) if binding is not None else None


def _same_vote(vote: Decision, decision: Decision) -> bool:
    same_decider = identity_key(vote.decided_by) == identity_key(decision.decided_by)
    return vote.approved == decision.approved and same_decider


def _verdict(verdict: Verdict) -> VoteVerdict:
    if verdict is Verdict.TAKEN:
        return VoteVerdict.DECIDED
    return VoteVerdict.REPEATED if verdict is Verdict.REPEATED else VoteVerdict.REFUSED


__all__ = ["NOT_IN_GROUP", "Tally", "VoteVerdict"]
