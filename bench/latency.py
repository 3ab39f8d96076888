"""Decision → agent resumed on the WebSocket path, against the floor shape's signal → result.

N workflows of each shape wait at once (started paced). Then one is decided
every ``gap`` seconds, each latency timed on its own, to the moment the agent's
``result()`` returns: for ApprovalWorkflow from the decision stored on the
platform (its decide POST answered; the POST's round trip is reported beside it,
not counted: issue 21), for the floor shape from just before its ``decide`` signal.
Both shapes run on the same dev server, each with its own worker process; the
floor goes first. The owner look-up reported beside them is timed after ours' decisions,
on ``LOOKUPS`` approvals started for it: look-ups made just before the decisions slow
them in the server, and the floor's decisions have none (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.audit_watch import AuditTail
from bench.driving import decided_by, ids, start_approval, start_floor, start_paced
from bench.floor import FloorWorkflow
from bench.processes import TASK_QUEUE, WORKSPACE, Stack, wait_websockets
from bench.report import percentile, ratio, table, verdict
from durable_approvals.models import ApprovalResult
from durable_approvals.search_attributes import owner_query
from durable_approvals.workflows.approval import ApprovalWorkflow

TARGET = 1.1
TARGET_P99 = 1.3
LOOKUPS = 50


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


@dataclass
class Approvals:
    latencies: list[float]  # decision stored (decide POST answered) → result returned
    with_posts: list[float]  # decide POST sent → result returned
    posts: list[float]  # decide POST sent → its reply
    lookups: list[float]  # one owner look-up in visibility, as the listener makes it
    lost: int  # results that did not carry the decision made


async def _lookups(stack: Stack, tail: AuditTail, workflow_ids: list[str]) -> list[float]:
    """The listener's visibility query for a decision's owner, timed for a sample of pending."""
    took = []
    for workflow_id in workflow_ids[:LOOKUPS]:
        query = owner_query(TASK_QUEUE, WORKSPACE, tail.requested[workflow_id])
        for _ in range(50):  # "requested" is written before the task that upserts ends
            began = time.perf_counter()
            found = [e.id async for e in stack.client.list_workflows(query, limit=1)]
            if found:
                break
            await asyncio.sleep(0.1)
        took.append(time.perf_counter() - began)
        if found != [workflow_id]:
            raise RuntimeError(f"look-up of {workflow_id}'s approval found {found}")
    return took


async def approval_latencies(
    stack: Stack, tail: AuditTail, prefix: str, count: int, gap: float, *, look_up: bool = True
) -> Approvals:
    workflow_ids = ids(prefix, count)
    await start_paced(stack, start_approval, tail, workflow_ids)
    api = stack.api()
    posts: list[float] = []
    with_posts: list[float] = []
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
            stored = time.perf_counter()
            posts.append(stored - began)
            result: ApprovalResult = await waiter
            ended = time.perf_counter()
            with_posts.append(ended - began)
        if result.decided_by != decided_by("latency", workflow_id):
            lost += 1
        return ended - stored

    latencies = await _spaced(count, gap, one)
    lookups: list[float] = []
    if look_up:
        looked_up = ids(f"{prefix}-lookup", LOOKUPS)
        await start_paced(stack, start_approval, tail, looked_up)
        lookups = await _lookups(stack, tail, looked_up)
    return Approvals(latencies, with_posts, posts, lookups, lost)


async def run(stack: Stack, count: int, gap: float = 0.05) -> str:
    stack.start_floor_worker()
    stack.start_worker()
    await wait_websockets(stack, 1, limit=60)
    floor_tail, tail = AuditTail(stack.floor_marks), AuditTail(stack.audit_path)
    await floor_latencies(stack, floor_tail, "warm-floor", 5, gap)
    await approval_latencies(stack, tail, "warm", 5, gap, look_up=False)
    await asyncio.sleep(5)  # the listener's catch-up passes after connect are over

    floor = await floor_latencies(stack, floor_tail, "lat-floor", count, gap)
    ours = await approval_latencies(stack, tail, "lat", count, gap)
    lost = ours.lost
    f50, f99 = percentile(floor, 50) * 1000, percentile(floor, 99) * 1000
    o50, o99 = percentile(ours.latencies, 50) * 1000, percentile(ours.latencies, 99) * 1000
    met = o50 <= TARGET * f50 and o99 <= TARGET_P99 * f99 and lost == 0
    parts = [
        ("same, from the decide POST sent (not counted)", ours.with_posts),
        ("in it: the decide POST's round trip (platform)", ours.posts),
        (
            f"beside it: one owner look-up in visibility ({LOOKUPS} pending, one at a time,"
            " after the decisions)",
            ours.lookups,
        ),
    ]
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
                "ApprovalWorkflow: decision stored (POST answered) → WebSocket → listener"
                " signal → result",
                len(ours.latencies),
                o50,
                o99,
                ratio(o50, f50),
                ratio(o99, f99),
                lost,
                f"p50 ≤ {TARGET}x, p99 ≤ {TARGET_P99}x floor, 0 lost",
                verdict(met),
            ],
            *(
                [
                    name,
                    len(values),
                    percentile(values, 50) * 1000,
                    percentile(values, 99) * 1000,
                    ratio(percentile(values, 50) * 1000, f50),
                    ratio(percentile(values, 99) * 1000, f99),
                    "",
                    "",
                    "",
                ]
                for name, values in parts
            ),
        ],
    )
