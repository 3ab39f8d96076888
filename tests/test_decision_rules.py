"""DecisionRules without Temporal: which decision an approval takes, which it refuses and why,
and that a refusal seen again (socket, catch-up, retried signal) is recorded once."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from durable_approvals.binding import HASH_MISMATCH, HASH_MISSING
from durable_approvals.identity import SELF_APPROVAL
from durable_approvals.models import ApprovalRequest, Decision, DecisionSource
from durable_approvals.workflows.args_binding import ArgsBinding
from durable_approvals.workflows.decision_rules import (
    CONFLICTING,
    LATE,
    UNKNOWN_APPROVAL,
    DecisionRules,
    Refusal,
    Verdict,
)

APPROVAL = "appr-1"
REQUESTER = "agent-7"


def decision(
    approved: bool = True,
    decided_by: str = "alice",
    *,
    approval_id: str = APPROVAL,
    source: DecisionSource = DecisionSource.WEBSOCKET,
    comment: str | None = None,
) -> Decision:
    return Decision(
        approval_id=approval_id,
        approved=approved,
        decided_by=decided_by,
        source=source,
        comment=comment,
    )


def rules(*, approval_id: str | None = APPROVAL, requester: str = REQUESTER) -> DecisionRules:
    return DecisionRules(requester=requester, approval_id=approval_id)


def reasons(state: DecisionRules) -> list[str]:
    return [refusal.because for refusal in state.refusals]


# --- 6. taken ---------------------------------------------------------------------


def test_the_first_decision_is_taken():
    state = rules()
    first = decision(approved=False, decided_by="bob")

    assert state.offer(first) is Verdict.TAKEN
    assert state.decision == first
    assert state.refusals == [] and not state.closed


def test_refusals_are_stamped_before_and_after_the_decision():
    state = rules()
    state.offer(decision(decided_by=REQUESTER))  # self-approval, before
    state.offer(decision(approved=False, decided_by="bob"))
    state.offer(decision(decided_by="carol"))  # conflicting, after

    assert reasons(state) == ["self-approval", "conflicting"]
    before, after = (refusal.arrival for refusal in state.refusals)
    assert state.decided_at_arrival is not None
    assert before < state.decided_at_arrival < after


def test_refusals_are_stamped_before_and_after_the_close():
    state = rules()
    state.offer(decision(decided_by=REQUESTER))  # self-approval, while waiting
    state.close()
    state.offer(decision(decided_by="bob"))  # late
    state.close()  # closing again moves nothing

    assert reasons(state) == ["self-approval", "late"]
    before, after = (refusal.arrival for refusal in state.refusals)
    assert state.closed_at_arrival is not None
    assert before < state.closed_at_arrival < after


# --- 1. unknown approval -----------------------------------------------------------


def test_a_decision_before_the_request_exists_is_refused_as_unknown():
    state = rules(approval_id=None)
    early = decision()

    assert state.offer(early) is Verdict.REFUSED
    assert state.decision is None
    assert state.refusals == [Refusal(early, UNKNOWN_APPROVAL)]


def test_a_decision_for_another_approval_is_refused_as_unknown():
    state = rules()
    other = decision(approval_id="appr-2")

    assert state.offer(other) is Verdict.REFUSED
    assert state.decision is None and reasons(state) == [UNKNOWN_APPROVAL]
    # the approval's own decision is still taken afterwards
    assert state.offer(decision()) is Verdict.TAKEN


def test_unknown_comes_before_every_other_rule():
    """Another approval's decision is "unknown" even when it would also be self, late or
    conflicting here: it never touches this approval's decision."""
    state = rules()
    state.offer(decision(approved=True))
    state.close()
    other = decision(approved=False, decided_by=REQUESTER, approval_id="appr-2")

    assert state.offer(other) is Verdict.REFUSED
    assert reasons(state) == [UNKNOWN_APPROVAL]
    assert state.decision is not None and state.decision.approved


# --- 2. repeated -------------------------------------------------------------------


@pytest.mark.parametrize(
    "source", [DecisionSource.WEBSOCKET, DecisionSource.CATCH_UP, DecisionSource.POLLING]
)
def test_the_taken_decision_seen_again_changes_nothing(source):
    state = rules()
    first = decision(source=DecisionSource.READ, comment="first sighting")
    state.offer(first)

    again = decision(source=source, comment="another path")
    assert state.offer(again) is Verdict.REPEATED
    assert state.decision == first  # the first sighting is kept, source and comment too
    assert state.refusals == []


def test_the_taken_decision_seen_again_after_the_wait_is_not_late():
    """Rule 2 before rule 4: a catch-up that re-delivers the decision after close is no refusal."""
    state = rules()
    state.offer(decision())
    state.close()

    assert state.offer(decision(source=DecisionSource.CATCH_UP)) is Verdict.REPEATED
    assert state.refusals == []


# --- 3. self-approval --------------------------------------------------------------


@pytest.mark.parametrize("decided_by", [REQUESTER, "AGENT-7", "  agent-7 "])
def test_the_requester_cannot_decide(decided_by):
    state = rules()
    own = decision(decided_by=decided_by)

    assert state.offer(own) is Verdict.REFUSED
    assert state.decision is None
    assert state.refusals == [Refusal(own, SELF_APPROVAL)]
    # someone else still can
    assert state.offer(decision(decided_by="alice")) is Verdict.TAKEN


def test_an_unknown_requester_makes_nobody_self():
    state = rules(requester="")

    assert state.offer(decision(decided_by="human")) is Verdict.TAKEN


def test_self_approval_is_refused_as_such_after_the_wait_too():
    """Rule 3 before rule 4: the audit says why it could never count, not merely that it
    came late."""
    state = rules()
    state.close()

    assert state.offer(decision(decided_by=REQUESTER)) is Verdict.REFUSED
    assert reasons(state) == [SELF_APPROVAL]


# --- 4. late -----------------------------------------------------------------------


def test_a_decision_after_the_wait_is_refused_as_late():
    state = rules()
    state.close()
    late = decision(approved=False)

    assert state.offer(late) is Verdict.REFUSED
    assert state.decision is None
    assert state.refusals == [Refusal(late, LATE)]


def test_close_is_idempotent():
    state = rules()
    state.close()
    state.close()

    assert state.closed
    assert state.offer(decision()) is Verdict.REFUSED and reasons(state) == [LATE]


# --- 5. conflicting ----------------------------------------------------------------


@pytest.mark.parametrize(
    "second",
    [
        decision(approved=False, decided_by="alice"),  # another answer
        decision(approved=True, decided_by="bob"),  # another person
    ],
    ids=["other-answer", "other-person"],
)
def test_a_different_second_decision_is_refused_and_the_first_wins(second):
    state = rules()
    first = decision(approved=True, decided_by="alice")
    state.offer(first)

    assert state.offer(second) is Verdict.REFUSED
    assert state.decision == first
    assert state.refusals == [Refusal(second, CONFLICTING)]


def test_a_conflicting_decision_after_the_wait_is_refused_as_late():
    """Rule 4 before rule 5: once the wait is over, lateness is what the audit says."""
    state = rules()
    state.offer(decision(approved=True))
    state.close()

    assert state.offer(decision(approved=False)) is Verdict.REFUSED
    assert reasons(state) == [LATE]


# --- refusal dedup -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "refused", "because"),
    [
        (lambda s: None, decision(approval_id="appr-2"), UNKNOWN_APPROVAL),
        (lambda s: None, decision(decided_by=REQUESTER), SELF_APPROVAL),
        (lambda s: s.close(), decision(), LATE),
        (lambda s: s.offer(decision(approved=True)), decision(approved=False), CONFLICTING),
    ],
    ids=["unknown", "self", "late", "conflicting"],
)
def test_a_refusal_seen_again_is_one_refusal(setup, refused, because):
    state = rules()
    setup(state)

    assert state.offer(refused) is Verdict.REFUSED
    for source in (DecisionSource.CATCH_UP, DecisionSource.POLLING, DecisionSource.CLIENT):
        seen_again = refused.model_copy(update={"source": source, "comment": "again"})
        assert state.offer(seen_again) is Verdict.REPEATED
    assert state.refusals == [Refusal(refused, because)]


def test_different_refused_answers_are_each_recorded():
    state = rules()
    state.offer(decision(approved=True, decided_by="alice"))

    assert state.offer(decision(approved=False, decided_by="alice")) is Verdict.REFUSED
    assert state.offer(decision(approved=False, decided_by="bob")) is Verdict.REFUSED
    assert state.offer(decision(approved=True, decided_by="bob")) is Verdict.REFUSED
    assert reasons(state) == [CONFLICTING] * 3


def test_the_same_answer_refused_again_for_another_reason_is_one_refusal():
    """Dedup is per (approval, answer): a conflicting decision seen again after the wait
    ended is the same human act, audited once (as conflicting, what it was first)."""
    state = rules()
    state.offer(decision(approved=True))
    conflicting = decision(approved=False)
    state.offer(conflicting)
    state.close()

    assert state.offer(conflicting) is Verdict.REPEATED
    assert reasons(state) == [CONFLICTING]


def test_refusals_of_other_approvals_do_not_hide_one_of_this_approval():
    state = rules()
    state.offer(decision(approval_id="appr-2", decided_by=REQUESTER))

    assert state.offer(decision(decided_by=REQUESTER)) is Verdict.REFUSED
    assert reasons(state) == [UNKNOWN_APPROVAL, SELF_APPROVAL]


# --- made_in_time ------------------------------------------------------------------


def test_a_platform_decision_made_in_time_is_taken_after_the_wait():
    """The timer fired, the expiry found a decision the platform recorded before it: it wins."""
    state = rules()
    state.close()
    in_time = decision(approved=False, decided_by="bob", source=DecisionSource.EXPIRY)

    assert state.offer(in_time, made_in_time=True) is Verdict.TAKEN
    assert state.decision == in_time and state.refusals == []


def test_made_in_time_after_a_late_refusal_of_the_same_decision_still_takes_it():
    """The socket brought it just after close (refused: late); the expiry then says the
    platform had it in time: it is taken, and the late refusal is withdrawn."""
    state = rules()
    state.close()
    seen_late = decision(source=DecisionSource.WEBSOCKET)
    assert state.offer(seen_late) is Verdict.REFUSED

    assert state.offer(decision(source=DecisionSource.EXPIRY), made_in_time=True) is Verdict.TAKEN
    assert state.decision is not None and state.decision.source is DecisionSource.EXPIRY
    assert reasons(state) == []


def test_made_in_time_does_not_override_the_other_rules():
    state = rules()
    state.close()
    assert state.offer(decision(decided_by=REQUESTER), made_in_time=True) is Verdict.REFUSED
    assert state.offer(decision(approval_id="appr-2"), made_in_time=True) is Verdict.REFUSED
    assert reasons(state) == [SELF_APPROVAL, UNKNOWN_APPROVAL]

    taken = decision(approved=True)
    assert state.offer(taken, made_in_time=True) is Verdict.TAKEN
    assert state.offer(decision(approved=True), made_in_time=True) is Verdict.REPEATED
    assert state.offer(decision(approved=False), made_in_time=True) is Verdict.REFUSED
    assert reasons(state) == [SELF_APPROVAL, UNKNOWN_APPROVAL, CONFLICTING]
    assert state.decision == taken


def test_made_in_time_before_close_is_an_ordinary_offer():
    state = rules()

    assert state.offer(decision(), made_in_time=True) is Verdict.TAKEN
    assert state.offer(decision(approved=False), made_in_time=True) is Verdict.REFUSED
    assert reasons(state) == [CONFLICTING]


# --- 4. the deadline: a decision made at or after it is late, however it arrives ---------

DEADLINE = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def timed_rules(now: datetime) -> DecisionRules:
    """Rules with the deadline, their clock at ``now`` (the arrival time)."""
    return DecisionRules(
        requester=REQUESTER, approval_id=APPROVAL, deadline=DEADLINE, clock=lambda: now
    )


def made(at: datetime | None, source: DecisionSource, approved: bool = True) -> Decision:
    return Decision(
        approval_id=APPROVAL, approved=approved, decided_by="alice", decided_at=at, source=source
    )


@pytest.mark.parametrize(
    "source", [DecisionSource.WEBSOCKET, DecisionSource.CATCH_UP, DecisionSource.READ]
)
def test_a_platform_decision_counts_by_its_decided_at_not_its_arrival(source):
    late_arrival = timed_rules(DEADLINE + 10 * SECOND)  # delivered late, made in time
    assert late_arrival.offer(made(DEADLINE - SECOND, source)) is Verdict.TAKEN
    early_arrival = timed_rules(DEADLINE - 10 * SECOND)  # a platform clock says late
    assert early_arrival.offer(made(DEADLINE, source)) is Verdict.REFUSED
    assert reasons(early_arrival) == [LATE]


def test_a_client_decision_counts_by_its_arrival_whatever_date_it_carries():
    late = timed_rules(DEADLINE)  # the timer's task, the deadline passed: not closed yet
    assert late.offer(made(DEADLINE - 10 * SECOND, DecisionSource.CLIENT)) is Verdict.REFUSED
    assert late.check(made(None, DecisionSource.CLIENT)) == LATE
    assert reasons(late) == [LATE] and late.decision is None
    in_time = timed_rules(DEADLINE - SECOND)
    assert in_time.offer(made(DEADLINE + SECOND, DecisionSource.CLIENT)) is Verdict.TAKEN


def test_the_expiry_adopts_only_a_decision_made_before_the_deadline():
    after = timed_rules(DEADLINE + 5 * SECOND)
    after.close()
    assert after.offer(made(DEADLINE + SECOND, DecisionSource.EXPIRY), made_in_time=True) is (
        Verdict.REFUSED
    )
    assert reasons(after) == [LATE] and after.decision is None
    before = timed_rules(DEADLINE + 5 * SECOND)
    before.close()
    assert before.offer(made(DEADLINE - SECOND, DecisionSource.EXPIRY), made_in_time=True) is (
        Verdict.TAKEN
    )
    undated = timed_rules(DEADLINE + 5 * SECOND)  # a platform without dates: it was in time
    undated.close()
    assert undated.offer(made(None, DecisionSource.EXPIRY), made_in_time=True) is Verdict.TAKEN


def test_a_naive_date_is_read_as_utc():
    state = timed_rules(DEADLINE + SECOND)
    naive = (DEADLINE - SECOND).replace(tzinfo=None)
    assert state.offer(made(naive, DecisionSource.POLLING)) is Verdict.TAKEN


# --- check(): offer's answer without offering (the decide update's validator) -------------


_PROBES = [
    decision(approved, by, approval_id=approval_id)
    for approved, by, approval_id in itertools.product(
        (True, False), ("alice", "bob", REQUESTER.upper()), (APPROVAL, "appr-2")
    )
]
_HISTORIES = [
    [],
    [decision(True, "alice")],
    [decision(False, "bob")],
    [decision(True, "alice"), "close"],
    ["close"],
    [decision(True, REQUESTER), decision(True, "alice", approval_id="appr-2")],
]


def _replayed(steps: list) -> DecisionRules:
    state = rules()
    for step in steps:
        if step == "close":
            state.close()
        else:
            state.offer(step)
    return state


def _agrees(state: DecisionRules, probe: Decision) -> None:
    before = copy.deepcopy(state)
    reason = state.check(probe)
    assert state == before, "check() changed the state"
    verdict = state.offer(probe)
    if verdict is Verdict.TAKEN:
        assert reason is None
    elif verdict is Verdict.REFUSED:
        assert reason == state.refusals[-1].because
    elif before.decision is not None and before.decision.same_answer(probe):
        assert reason is None  # the decision taken already, seen again
    else:
        assert reason is not None  # a refusal seen again: refused again by check


@pytest.mark.parametrize("steps", _HISTORIES, ids=range(len(_HISTORIES)))
@pytest.mark.parametrize("probe", _PROBES, ids=range(len(_PROBES)))
def test_check_is_offers_reason_without_changing_anything(steps, probe):
    _agrees(_replayed(steps), probe)


def test_check_names_each_reason():
    state = rules()
    assert state.check(decision(approval_id="appr-2")) == UNKNOWN_APPROVAL
    assert state.check(decision(decided_by=f" {REQUESTER} ")) == SELF_APPROVAL
    assert state.check(decision()) is None
    state.offer(decision())
    assert state.check(decision()) is None  # repeated: not refused
    assert state.check(decision(approved=False, decided_by="bob")) == CONFLICTING
    state.close()
    assert state.check(decision(approved=False, decided_by="bob")) == LATE
    assert state.check(decision(approved=False, decided_by="bob"), made_in_time=True) == (
        CONFLICTING
    )
    assert state.refusals == []


def test_check_applies_the_args_binding():
    request = ApprovalRequest(workspace_id="ws", action="Drop db", args={"db": "stage-7"})
    state = rules()
    state.binding = ArgsBinding.of(request)
    assert state.check(decision()) == HASH_MISSING
    assert state.check(decision().model_copy(update={"action_hash": "0" * 64})) == HASH_MISMATCH
    bound = decision().model_copy(update={"action_hash": request.action_hash()})
    assert state.check(bound) is None
    assert state.check(decision(approved=False)) is None  # a denial may omit the hash
    assert state.refusals == [] and state.decision is None
