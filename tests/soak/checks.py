"""The invariants, per approval once the load has stopped: the right outcome, one
request on the platform, one outcome record in the audit, no hung workflow; per side
the audit chain; every history replays."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowFailureError, WorkflowHistory, WorkflowQueryFailedError
from temporalio.exceptions import CancelledError
from temporalio.service import RPCError

from durable_approvals.audit_log import AuditLog, verify_chain
from durable_approvals.models import ApprovalResult, OnTimeout
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.fault_kit import replay_failures
from tests.soak.history import facts
from tests.soak.stack import Side, Stack
from tests.soak.verdicts import made_decisions, outcome_problems
from tests.soak.workload import Approval

OUTCOMES = {"granted", "denied", "timeout", "cancelled", "failure"}
KNOWN_NONDETERMINISM: tuple[str, ...] = ()
"""Nondeterminism counted apart (none: the one the soak first met is fixed, issue 24)."""
AUDIT_MISMATCH = "audit-mismatch"
"""The outcome record is not how the workflow ended: product bugs the soak found
(docs/testing.md, "Chaos soak": a cancellation while the timeout is handled; the outcome
record of a failed workflow task that its redo decided otherwise). ``--tolerate
audit-mismatch`` counts them apart instead of failing."""
UPSTREAM_DUPLICATE = "duplicated-upstream"
"""Two requests for one approval on the strict platform: the upstream contract has no
``Idempotency-Key``, and a create that lands after a retried create's look-up makes a
second one (README, "Known limits"). Counted and reported, never failing the run."""
CREATE_FAILED = "create-failed"
"""No request, the workflow ended ``failure`` with a ``submit-failed`` record: the platform
was down or answering 503 for longer than the create's retries (five attempts, about 15 s:
a restart, not a dead platform). The agent was told; nothing was decided. Counted apart."""
KNOWN_LIMITS = frozenset({UPSTREAM_DUPLICATE, CREATE_FAILED})


@dataclass
class Judged:
    """One approval's outcome and what broke."""

    approval: Approval
    outcome: str
    problems: dict[str, list[str]] = field(default_factory=dict)

    def add(self, invariant: str, problem: str) -> None:
        self.problems.setdefault(invariant, []).append(problem)


@dataclass
class Findings:
    """Every approval judged, the chains, the replays, and the counts per invariant."""

    judged: list[Judged]
    chains: dict[str, str]
    unreplayable: list[str]
    known_nondeterminism: list[str]
    tolerate: frozenset[str] = frozenset()

    def counts(self) -> Counter[str]:
        """Approvals per broken invariant (tolerated kinds left out), and the replays
        and chains that failed."""
        counts: Counter[str] = Counter()
        for judged in self.judged:
            for invariant in judged.problems:
                if invariant not in self.tolerate | KNOWN_LIMITS:
                    counts[invariant] += 1
        counts["unreplayable"] = len(self.unreplayable)
        counts["chain"] = sum(1 for c in self.chains.values() if c != "ok")
        return counts

    def tolerated(self) -> Counter[str]:
        """Approvals per tolerated kind (and per documented limit of the upstream contract)."""
        apart = self.tolerate | KNOWN_LIMITS
        return Counter(kind for judged in self.judged for kind in judged.problems if kind in apart)


def platform_rows(side: Side) -> dict[str, list[dict[str, Any]]]:
    """Every request the side's platform stores, by action (read from its SQLite file:
    the list route shows only the newest 50)."""
    with sqlite3.connect(side.platform.db_path) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT action, status, decided_by, decided_at FROM approvals").fetchall()
    by_action: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_action.setdefault(row["action"], []).append(dict(row))
    return by_action


async def _result(stack: Stack, approval: Approval, bound: float) -> tuple[str, str | None]:
    handle = stack.client.get_workflow_handle(approval.workflow_id, result_type=ApprovalResult)
    try:
        result = await asyncio.wait_for(handle.result(), bound)
    except TimeoutError:
        return "hung", None
    except WorkflowFailureError as error:
        if isinstance(error.cause, CancelledError):
            return "cancelled", None
        return f"failed: {error.cause}", None
    return result.status.value, result.decided_by


async def _deadline(stack: Stack, approval: Approval) -> datetime | None:
    """The deadline in force when it ended, from its status query: the first deadline
    plus the escalation's second wait unless it escalated at the deadline already."""
    handle = stack.client.get_workflow_handle(approval.workflow_id)
    for _ in range(10):
        try:
            view = await handle.query(ApprovalWorkflow.status)
            break
        except RPCError:
            await asyncio.sleep(1.0)
        except WorkflowQueryFailedError:  # its history does not replay: judged as such
            return None
    else:
        return None
    request = approval.request
    if view.deadline is None or request.on_timeout is not OnTimeout.ESCALATE:
        return view.deadline
    if request.escalate_after is None and view.escalations > 0:
        return view.deadline  # the deadline escalated: this is the second one
    assert request.escalate_after is None, "no soak policy has both"
    return view.deadline + timedelta(
        seconds=request.total_timeout_seconds - request.timeout_seconds
    )


async def judge_all(
    stack: Stack,
    approvals: list[Approval],
    bound: float,
    out: Path,
    tolerate: frozenset[str] = frozenset(),
) -> Findings:
    """Wait (at most ``bound`` seconds) for every workflow, then check each approval; the
    history of each one that broke an invariant is kept under ``out/findings``."""
    loop = asyncio.get_running_loop()
    until = loop.time() + bound
    results = []
    for approval in approvals:
        results.append(await _result(stack, approval, max(1.0, until - loop.time())))
    rows = {side.mode: platform_rows(side) for side in stack.sides}
    audits = {
        side.mode: list(AuditLog(side.settings.audit_log_path).records()) for side in stack.sides
    }
    histories: list[WorkflowHistory] = []
    judged = []
    for approval, (outcome, decided_by) in zip(approvals, results, strict=True):
        history = await stack.client.get_workflow_handle(approval.workflow_id).fetch_history()
        histories.append(history)
        deadline = await _deadline(stack, approval) if outcome != "hung" else None
        judged.append(_judge(approval, outcome, decided_by, deadline, history, rows, audits))
    for judged_one, history in zip(judged, histories, strict=True):
        if judged_one.problems:
            (out / "findings").mkdir(exist_ok=True)
            path = out / "findings" / f"{history.workflow_id}.json"
            path.write_text(history.to_json(), encoding="utf-8")
    failures = await replay_failures(histories, out / "unreplayable", "soak")
    known = [
        f for f in failures if KNOWN_NONDETERMINISM and all(w in f for w in KNOWN_NONDETERMINISM)
    ]
    chains = {}
    for side in stack.sides:
        report = verify_chain(side.settings.audit_log_path)
        chains[side.mode] = "ok" if report.ok else report.summary()
    return Findings(judged, chains, [f for f in failures if f not in known], known, tolerate)


def _judge(
    approval: Approval,
    outcome: str,
    decided_by: str | None,
    deadline: datetime | None,
    history: WorkflowHistory,
    rows: dict[str, dict[str, list[dict[str, Any]]]],
    audits: dict[str, list[dict[str, Any]]],
) -> Judged:
    judged = Judged(approval, outcome)
    plan = approval.plan
    requests = rows[plan.mode].get(plan.action, [])
    if outcome == "hung":
        judged.add("hung", f"no result within the bound ({approval.problem or 'pending'})")
    if not requests:
        submit_failed = any(
            r.get("reason") == "submit_failed"
            and str(r.get("event_id", "")).startswith(f"{approval.workflow_id}/")
            for r in audits[plan.mode]
        )
        if outcome == "failure" and submit_failed:
            judged.add(CREATE_FAILED, "no request: the create's retries ran out")
        else:
            judged.add("lost", "no request")
    elif len(requests) > 1:
        kind = UPSTREAM_DUPLICATE if plan.mode == "strict" else "duplicated"
        judged.add(kind, f"{len(requests)} requests")
    records = [
        r
        for r in audits[plan.mode]
        if str(r.get("event_id", "")).startswith(f"{approval.workflow_id}/")
    ]
    written = Counter(r["event_id"] for r in records)
    if any(n > 1 for n in written.values()):
        judged.add("duplicated", f"audit events written twice: {written.most_common(1)}")
    outcomes = [r["outcome"] for r in records if r["outcome"] in OUTCOMES]
    if len(outcomes) > 1:
        judged.add("two-outcomes", f"outcome records {outcomes}")
    elif not outcomes and outcome != "hung":
        judged.add("lost", f"ended {outcome}, no outcome record")
    elif outcome != "hung" and outcomes != [outcome]:
        judged.add(AUDIT_MISMATCH, f"ended {outcome}, outcome record {outcomes}")
    if outcome == "hung" or CREATE_FAILED in judged.problems:
        return judged  # never waited: no deadline to judge decisions by
    if deadline is None:
        judged.add("unreplayable", "its status query failed (see the replay check)")
        return judged
    found = facts(history)
    made = made_decisions(approval.attempts, found, requests[0] if len(requests) == 1 else None)
    for problem in outcome_problems(
        outcome,
        decided_by,
        made,
        deadline,
        required=approval.request.approvals_required,
        cancel_at=found.cancel_at,
    ):
        judged.add("wrong-outcome", problem)
    return judged
