"""Decision → agent resumed on the WebSocket path, against the floor shape's signal → result.

N workflows of each shape wait at once (started paced). Then one is decided
every ``gap`` seconds, each latency timed on its own: from just before the
decision (the platform's decide POST; for the floor shape, the ``decide``
signal) to the moment the agent's ``result()`` returns. Both shapes run on the
same dev server, each with its own worker process; the floor goes first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from approvals.models import ApprovalResult
from bench.audit_watch import AuditTail
from bench.driving import decided_by, ids, start_approval, start_floor, start_paced
from bench.floor import FloorWorkflow
from bench.processes import Stack, wait_websockets
from bench.report import percentile, ratio, table, verdict
from workflows.approval import ApprovalWorkflow

TARGET = 1.1


async def _spaced(count: int, gap: float, one: Callable[[int], Awaitable[float]]) -> list[float]:
    async def at(n: int) -> float:
        await asyncio.sleep(n * gap)
        return await one(n)

    return list(await asyncio.gather(*(at(n) for n in range(count))))


async def floor_latencies(
    stack: Stack, tail: AuditTail, prefix: str, count: int, gap: float
) -> list[float]:
    workflow_ids = ids(prefix, count)
    await start_paced(stack, start_floor, tail, workflow_ids)

    async def one(n: int) -> float:
        handle = stack.client.get_workflow_handle_for(FloorWorkflow.run, workflow_ids[n])
        async with asyncio.timeout(60):
            waiter = asyncio.ensure_future(handle.result())
            began = time.perf_counter()
            await handle.signal(FloorWorkflow.decide, "floor")
            await waiter
            return time.perf_counter() - began

    return await _spaced(count, gap, one)


async def approval_latencies(
    stack: Stack, tail: AuditTail, prefix: str, count: int, gap: float
) -> tuple[list[float], int]:
    """Latencies, and how many results did not carry the decision made (lost)."""
    workflow_ids = ids(prefix, count)
    await start_paced(stack, start_approval, tail, workflow_ids)
    api = stack.api()
    lost = 0

    async def one(n: int) -> float:
        nonlocal lost
        workflow_id = workflow_ids[n]
        handle = stack.client.get_workflow_handle_for(ApprovalWorkflow.run, workflow_id)
        async with asyncio.timeout(60):
            waiter = asyncio.ensure_future(handle.result())
            began = time.perf_counter()
            await api.decide(
                tail.requested[workflow_id],
                approved=True,
                decided_by=decided_by("latency", workflow_id),
            )
            result: ApprovalResult = await waiter
            took = time.perf_counter() - began
        if result.decided_by != decided_by("latency", workflow_id):
            lost += 1
        return took

    return await _spaced(count, gap, one), lost


async def run(stack: Stack, count: int, gap: float = 0.05) -> str:
    stack.start_floor_worker()
    stack.start_worker()
    await wait_websockets(stack, 1, limit=60)
    floor_tail, tail = AuditTail(stack.floor_marks), AuditTail(stack.audit_path)
    await floor_latencies(stack, floor_tail, "warm-floor", 5, gap)
    await approval_latencies(stack, tail, "warm", 5, gap)
    await asyncio.sleep(5)  # the listener's catch-up passes after connect are over

    floor = await floor_latencies(stack, floor_tail, "lat-floor", count, gap)
    ours, lost = await approval_latencies(stack, tail, "lat", count, gap)
    f50, f99 = percentile(floor, 50) * 1000, percentile(floor, 99) * 1000
    o50, o99 = percentile(ours, 50) * 1000, percentile(ours, 99) * 1000
    met = o50 <= TARGET * f50 and o99 <= TARGET * f99 and lost == 0
    return table(
        f"decision → agent resumed, {count} pending, one decision every {gap * 1000:g} ms (ms)",
        ["path", "n", "p50", "p99", "p50 x floor", "p99 x floor", "lost", "target", "met"],
        [
            [
                "floor shape: signal → result",
                len(floor),
                f50,
                f99,
                "1.00x",
                "1.00x",
                0,
                "baseline",
                "",
            ],
            [
                "ApprovalWorkflow: decide POST → WebSocket → listener signal → result",
                len(ours),
                o50,
                o99,
                ratio(o50, f50),
                ratio(o99, f99),
                lost,
                f"p50, p99 ≤ {TARGET}x floor, 0 lost",
                verdict(met),
            ],
        ],
    )
