"""Properties of the decision rules (workflows/decision_rules.py), without Temporal.

Stated against a model of the rule: the decision of an approval is the first decision
offered that names it, is not the requester's own, and arrived before the wait was over
(or was read by the expiry as made in time). Nothing offered later changes it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from durable_approvals.models import Decision
from durable_approvals.workflows.decision_rules import DecisionRules, Verdict
from tests.properties.strategies import APPROVAL, NAMES, decisions, spellings, spelt


def same_person(one: str, other: str) -> bool:
    """The self-approval rule, written out for ``spellings()``: the same name however
    spelt; an unknown requester (empty) is no one."""
    return bool(spelt(one)) and spelt(one) == spelt(other)


@dataclass(frozen=True)
class Offer:
    decision: Decision
    made_in_time: bool


@st.composite
def histories(draw: st.DrawFn) -> tuple[str, list[Offer], int | None]:
    """A requester, the offers in arrival order and where the wait closed (or never)."""
    requester = draw(st.one_of(spellings(NAMES), st.just("")))
    offers = draw(st.lists(st.builds(Offer, decisions(), st.booleans()), max_size=12))
    close_at = draw(st.none() | st.integers(0, len(offers)))
    return requester, offers, close_at


def model(requester: str, offers: list[Offer], close_at: int | None) -> Decision | None:
    for index, offer in enumerate(offers):
        d = offer.decision
        closed = close_at is not None and index >= close_at
        if d.approval_id != APPROVAL or same_person(requester, d.decided_by):
            continue
        if closed and not offer.made_in_time:
            continue
        return d
    return None


def run(
    requester: str, offers: list[Offer], close_at: int | None, verdicts: list[Verdict] | None = None
) -> DecisionRules:
    """The offers applied in order (``close()`` before offer ``close_at``); checks on the way
    that a decision, once taken, is never replaced."""
    rules = DecisionRules(requester=requester, approval_id=APPROVAL)
    taken: Decision | None = None
    for index, offer in enumerate(offers):
        if index == close_at:
            rules.close()
        closed = close_at is not None and index >= close_at
        verdict = rules.offer(offer.decision, made_in_time=closed and offer.made_in_time)
        if verdicts is not None:
            verdicts.append(verdict)
        if taken is not None:  # a later decision never flips the outcome
            assert rules.decision is taken
            assert verdict is not Verdict.TAKEN
        elif verdict is Verdict.TAKEN:
            taken = rules.decision
            assert taken is offer.decision
    if close_at == len(offers):
        rules.close()
    return rules


@given(histories())
def test_the_first_valid_decision_wins_and_stays(history):
    requester, offers, close_at = history
    rules = run(requester, offers, close_at)
    assert rules.decision is model(requester, offers, close_at)


@given(histories())
def test_self_approval_never_counts(history):
    requester, offers, close_at = history
    verdicts: list[Verdict] = []
    rules = run(requester, offers, close_at, verdicts)
    if rules.decision is not None:
        assert not same_person(requester, rules.decision.decided_by)
    for offer, verdict in zip(offers, verdicts, strict=True):
        if same_person(requester, offer.decision.decided_by):
            assert verdict is not Verdict.TAKEN


@given(histories())
def test_nothing_after_the_deadline_counts(history):
    requester, offers, close_at = history
    late_only = [Offer(o.decision, made_in_time=False) for o in offers]
    rules = run(requester, late_only, close_at)
    if rules.decision is not None and close_at is not None:
        assert any(o.decision is rules.decision for o in late_only[:close_at])
    if close_at == 0:
        assert rules.decision is None


@given(histories())
def test_each_refused_answer_is_recorded_once(history):
    requester, offers, close_at = history
    rules = run(requester, offers, close_at)
    acts = [
        (r.decision.approval_id, r.decision.approved, r.decision.decided_by) for r in rules.refusals
    ]
    assert len(acts) == len(set(acts))
    stamps = [r.arrival for r in rules.refusals]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


@given(histories(), decisions(), st.booleans())
def test_check_is_pure_and_agrees_with_offer(history, decision, made_in_time):
    requester, offers, close_at = history
    rules = run(requester, offers, close_at)
    made_in_time = made_in_time and rules.closed
    before = copy.deepcopy(rules)
    because = rules.check(decision, made_in_time=made_in_time)
    assert rules == before  # nothing changed, nothing recorded
    taken_before = rules.decision
    verdict = rules.offer(decision, made_in_time=made_in_time)
    if because is None:
        assert verdict in (Verdict.TAKEN, Verdict.REPEATED)
        assert rules.decision is not None and rules.decision.same_answer(decision)
    else:
        assert verdict in (Verdict.REFUSED, Verdict.REPEATED)
        assert rules.decision is taken_before
