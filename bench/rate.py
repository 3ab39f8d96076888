"""To-waiting rate: N requests started at once, until every one waits; against the floor shape.

"Waiting" is the ``requested`` record: the audit record an ApprovalWorkflow
writes after RBAC and create, the mark the floor shape writes at the same step.
Both shapes run on the same dev server with their own worker; the floor goes first.
"""

from __future__ import annotations

import time

from bench.audit_watch import AuditTail, requested_of
from bench.driving import Starter, ids, start_all, start_approval, start_floor, start_paced
from bench.processes import Stack, wait_websockets
from bench.report import ratio, table, verdict

TARGET = 0.9


async def _to_waiting(
    stack: Stack, starter: Starter, tail: AuditTail, prefix: str, count: int
) -> tuple[float, float, int]:
    """Seconds the starts took, seconds until all wait, start calls retried."""
    workflow_ids = ids(prefix, count)
    began = time.perf_counter()
    starts = await start_all(stack, starter, workflow_ids)
    if starts.failed:
        raise RuntimeError(f"starts failed: {dict(starts.failed)}")
    await tail.wait(requested_of(workflow_ids), limit=1800)
    return starts.seconds, time.perf_counter() - began, starts.retried.total()


async def run(stack: Stack, count: int) -> str:
    stack.start_floor_worker()
    stack.start_worker()
    await wait_websockets(stack, 1, limit=60)
    floor_tail, tail = AuditTail(stack.floor_marks), AuditTail(stack.audit_path)
    await start_paced(stack, start_floor, floor_tail, ids("warm-floor", 5))
    await start_paced(stack, start_approval, tail, ids("warm", 5))

    f_starts, f_waiting, f_errors = await _to_waiting(stack, start_floor, floor_tail, "rf", count)
    o_starts, o_waiting, o_errors = await _to_waiting(stack, start_approval, tail, "rate", count)
    f_rate, o_rate = count / f_waiting, count / o_waiting
    return table(
        f"to-waiting rate, {count} requests at once",
        [
            "shape",
            "starts s",
            "starts retried",
            "all waiting s",
            "waiting/s",
            "x floor",
            "target",
            "met",
        ],
        [
            ["floor shape", f_starts, f_errors, f_waiting, f_rate, "1.00x", "baseline", ""],
            [
                "ApprovalWorkflow (requested audited)",
                o_starts,
                o_errors,
                o_waiting,
                o_rate,
                ratio(o_rate, f_rate),
                f"≥ {TARGET}x floor",
                verdict(o_rate >= TARGET * f_rate),
            ],
        ],
    )
