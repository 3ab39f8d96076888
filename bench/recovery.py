"""SIGKILL the worker with N pending, decide them all while it is down, start a new one.

Figure: seconds from the new worker's start until every workflow has returned
the decision made, and how many did not (lost). The baseline is the same
drain with no crash, measured in the same run.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Sequence

from approvals.models import ApprovalResult
from bench import audit_watch
from bench.driving import Handle, bounded, request, start, wait_listening
from bench.processes import Stack
from bench.report import ratio, table
from workflows.approval import ApprovalWorkflow


async def _pending(
    stack: Stack, count: int, heartbeat_timeout: float
) -> tuple[list[Handle], list[str]]:
    audit = stack.data_dir / "audit.jsonl"
    before = await asyncio.to_thread(audit_watch.count, audit, "requested")
    approval = request(heartbeat_timeout=heartbeat_timeout)
    handles: list[Handle] = await bounded(range(count), lambda _: start(stack, approval), 500)
    await audit_watch.wait_for(audit, "requested", before + count, limit=1800)
    await bounded(handles, wait_listening, 64)
    views = await bounded(handles, lambda h: h.query(ApprovalWorkflow.status), 64)
    return handles, [str(view.approval_id) for view in views]


async def _decide_all(stack: Stack, approval_ids: list[str], tag: str) -> None:
    api = stack.api()
    await bounded(
        list(enumerate(approval_ids)),
        lambda item: api.decide(item[1], approved=True, decided_by=f"{tag}-{item[0]}"),
        64,
    )


def _lost(results: Sequence[ApprovalResult], tag: str) -> int:
    """Results that do not carry the decision made for them."""
    return sum(
        1
        for n, result in enumerate(results)
        if not result.approved or result.decided_by != f"{tag}-{n}"
    )


async def run(stack: Stack, count: int, heartbeat_timeout: float) -> str:
    worker = stack.start_worker()
    handles, approval_ids = await _pending(stack, count, heartbeat_timeout)
    began = time.perf_counter()
    await _decide_all(stack, approval_ids, "calm")
    calm_results = await asyncio.gather(*(h.result() for h in handles))
    calm = time.perf_counter() - began

    handles, approval_ids = await _pending(stack, count, heartbeat_timeout)
    worker.send_signal(signal.SIGKILL)
    await asyncio.to_thread(worker.wait, 30)
    await _decide_all(stack, approval_ids, "crash")
    began = time.perf_counter()
    stack.start_worker()
    crash_results = await asyncio.gather(*(h.result() for h in handles))
    recovered = time.perf_counter() - began
    return table(
        f"recovery: SIGKILL with {count} pending, decide all while down, restart "
        f"(heartbeat timeout {heartbeat_timeout:g}s)",
        ["case", "seconds until all resumed", "x base", "lost"],
        [
            [
                "worker SIGKILLed, restarted",
                recovered,
                ratio(recovered, calm),
                _lost(crash_results, "crash"),
            ],
            ["baseline: same drain, no crash", calm, "1.00x", _lost(calm_results, "calm")],
        ],
    )
