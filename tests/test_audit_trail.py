"""The audit trail's records and their arrival order (workflows/audit_trail.py), without
Temporal: the records a run writes are collected as the audit activity would get them."""

from __future__ import annotations

from datetime import UTC, datetime

from durable_approvals.models import AuditEntry, Decision
from durable_approvals.workflows.audit_trail import AuditTrail
from durable_approvals.workflows.decision_rules import DecisionRules
from durable_approvals.workflows.votes import Tally

APPROVAL = "a-1"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class Written:
    """The records in the order the trail wrote them."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def __call__(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    @property
    def keys(self) -> list[str]:
        return [entry.event_id.rsplit("/", 1)[1] for entry in self.entries]


def trail(votes: bool = False) -> tuple[AuditTrail, DecisionRules, Tally | None, Written]:
    rules = DecisionRules(requester="agent", approval_id=APPROVAL)
    tally = Tally(rules, 3) if votes else None
    written = Written()
    audit = AuditTrail(
        run_key="wf/run",
        workspace_id="ws",
        resource="deploy",
        trace_id="t-1",
        rules=rules,
        tally=tally,
        write=written,
        clock=lambda: NOW,
        approvals_required=3 if votes else 1,
    )
    return audit, rules, tally, written


def decision(by: str, approved: bool = True, approval_id: str = APPROVAL) -> Decision:
    return Decision(approval_id=approval_id, approved=approved, decided_by=by)


async def test_a_record_names_the_run_and_leaves_out_empty_fields():
    audit, _, _, written = trail()
    await audit.record("timeout", outcome="timeout", approval_id=APPROVAL, escalated_to=None)
    [entry] = written.entries
    assert entry.event_id == "wf/run/timeout"
    assert (entry.timestamp, entry.workspace_id, entry.resource) == (NOW, "ws", "deploy")
    assert entry.trace_id == "t-1" and entry.extra == {"approval_id": APPROVAL}


async def test_votes_and_refusals_are_written_in_arrival_order_each_once():
    audit, _, tally, written = trail(votes=True)
    assert tally is not None
    tally.offer(decision("alice"))  # 1: counted
    tally.offer(decision("agent"))  # 2: refused, self-approval
    tally.offer(decision("bob"))  # 3: counted
    tally.offer(decision("x", approval_id="other"))  # 4: refused, unknown approval
    assert audit.votes_unwritten() and audit.refusals_unwritten()
    await audit.write_arrivals()
    assert written.keys == ["voted-1", "rejected-1", "voted-2", "rejected-2"]
    assert [e.extra.get("approvals") for e in written.entries] == [1, None, 2, None]
    await audit.write_arrivals()  # nothing new: nothing written again
    assert len(written.entries) == 4
    assert not audit.votes_unwritten() and not audit.refusals_unwritten()


async def test_only_what_arrived_before_the_outcome_comes_before_its_record():
    audit, rules, _, written = trail()
    rules.offer(decision("agent"))  # 1: refused before the decision
    rules.offer(decision("alice"))  # 2: taken
    rules.offer(decision("bob", approved=False))  # 3: refused after it, conflicting
    await audit.write_arrivals(before=rules.decided_at_arrival)
    await audit.record_outcome(outcome="granted")
    assert written.keys == ["rejected-1", "outcome", "rejected-2"]
    reasons = [e.extra.get("rejected_because") for e in written.entries]
    assert reasons == ["self-approval", None, "conflicting"]


async def test_every_outcome_of_a_run_has_one_event_id():
    """A stale task's timeout and the real task's denial collide: the log keeps one."""
    ids = []
    for outcome in ("timeout", "denied", "cancelled"):
        audit, _, _, written = trail()
        await audit.record_outcome(outcome=outcome)
        ids += [entry.event_id for entry in written.entries]
    assert ids == ["wf/run/outcome"] * 3


async def test_the_requested_record_is_remembered_once_written():
    audit, _, _, written = trail()
    assert not audit.requested_written
    await audit.record_requested(APPROVAL, "why", action_hash="h" * 64)
    assert audit.requested_written
    assert written.entries[0].extra == {
        "approval_id": APPROVAL,
        "reason_text": "why",
        "action_hash": "h" * 64,
    }
