"""Starting workflows of both shapes, deciding them, and checking what each agent got back.

Workflows get ids ``{prefix}-{n}`` so that nothing per workflow has to be kept
but the id; the approval id of each comes from its ``requested`` audit record.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from temporalio.client import WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from bench.audit_watch import AuditTail, requested_of
from bench.floor import FloorWorkflow
from bench.processes import FLOOR_TASK_QUEUE, TASK_QUEUE, WORKSPACE, Stack
from durable_approvals.models import ApprovalRequest, ApprovalResult, approval_workflow_id
from durable_approvals.platform_client import PlatformError
from durable_approvals.workflows.approval import ApprovalWorkflow

T = TypeVar("T")
U = TypeVar("U")
WAIT_SECONDS = 6 * 3600.0  # every timer outlives the benchmark
ATTEMPTS = 5


def request() -> ApprovalRequest:
    return ApprovalRequest(
        workspace_id=WORKSPACE,
        action="benchmark action",
        reason="measuring",
        timeout_seconds=WAIT_SECONDS,
    )


async def bounded(
    items: Iterable[U], work: Callable[[U], Awaitable[T]], concurrency: int = 64
) -> list[T]:
    limit = asyncio.Semaphore(concurrency)

    async def one(item: U) -> T:
        async with limit:
            return await work(item)

    return await asyncio.gather(*(one(item) for item in items))


def ids(prefix: str, count: int) -> list[str]:
    """Workflow ids as an agent's client makes them: ``approval-{ws}-{key}``."""
    return [approval_workflow_id(WORKSPACE, f"{prefix}-{n}") for n in range(count)]


# A start under a known id attaches to the run it may already have made: retrying one
# whose reply was lost (an RPC timeout under a burst) is safe, as an agent's retry would be.
ATTACH = WorkflowIDConflictPolicy.USE_EXISTING


async def start_approval(stack: Stack, workflow_id: str) -> None:
    await stack.client.start_workflow(
        ApprovalWorkflow.run,
        request(),
        id=workflow_id,
        task_queue=TASK_QUEUE,
        id_conflict_policy=ATTACH,
    )


async def start_floor(stack: Stack, workflow_id: str) -> None:
    await stack.client.start_workflow(
        FloorWorkflow.run,
        WAIT_SECONDS,
        id=workflow_id,
        task_queue=FLOOR_TASK_QUEUE,
        id_conflict_policy=ATTACH,
    )


Starter = Callable[[Stack, str], Awaitable[None]]


@dataclass
class Starts:
    seconds: float  # until every start call has returned
    retried: Counter[str]  # failed attempts that were retried, by error
    failed: Counter[str]  # starts that still failed after ATTEMPTS, by their last error


async def start_all(stack: Stack, starter: Starter, workflow_ids: Sequence[str]) -> Starts:
    """Start every workflow at once (no client-side limit); a start whose call fails (an
    RPC timeout while the server is busy) is retried with the same id, 1 s apart."""
    starts = Starts(0.0, Counter(), Counter())

    async def one(workflow_id: str) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                await starter(stack, workflow_id)
                return
            except RPCError as error:
                kind = f"RPCError: {error.message[:60]}"
                if attempt == ATTEMPTS:
                    starts.failed[kind] += 1
                    return
                starts.retried[kind] += 1
            await asyncio.sleep(1.0)

    began = time.perf_counter()
    await asyncio.gather(*(one(w) for w in workflow_ids))
    starts.seconds = time.perf_counter() - began
    return starts


async def start_paced(
    stack: Stack,
    starter: Starter,
    tail: AuditTail,
    workflow_ids: Sequence[str],
    *,
    ahead: int = 200,
    limit: float = 3600,
) -> float:
    """Start the workflows with at most ``ahead`` not yet waiting; seconds until all wait.

    The pace is the system's own: a new batch starts only when the previous ones
    have reached ``requested``.
    """
    began = time.perf_counter()
    async with asyncio.timeout(limit):
        for first in range(0, len(workflow_ids), ahead // 2):
            batch = workflow_ids[first : first + ahead // 2]
            await bounded(batch, lambda w: starter(stack, w), 64)
            await tail.wait(requested_of(workflow_ids[: max(0, first - ahead // 2)]), limit)
        await tail.wait(requested_of(workflow_ids), limit)
    return time.perf_counter() - began


def decided_by(tag: str, workflow_id: str) -> str:
    return f"{tag}:{workflow_id}"


async def decide_all(
    stack: Stack, tail: AuditTail, workflow_ids: Sequence[str], tag: str, concurrency: int = 64
) -> float:
    """Approve every request on the platform as ``{tag}:{workflow id}``; seconds it took."""
    api = stack.api()

    async def one(workflow_id: str) -> None:
        for attempt in range(3):
            try:
                await api.decide(
                    tail.requested[workflow_id],
                    approved=True,
                    decided_by=decided_by(tag, workflow_id),
                )
                return
            except PlatformError as error:
                if attempt and error.status_code == 404:
                    return  # the earlier attempt was recorded; its reply was lost
                if not error.retryable or attempt == 2:
                    raise
            await asyncio.sleep(0.5)

    began = time.perf_counter()
    await bounded(workflow_ids, one, concurrency)
    return time.perf_counter() - began


@dataclass
class Outcomes:
    """What the agents got back."""

    resumed: int = 0  # results that carry the decision made for them
    lost: int = 0  # results without it (another decision, a timeout, a failure)
    failed: int = 0  # workflows that failed instead of returning a result


async def outcomes(stack: Stack, workflow_ids: Sequence[str], tag: str) -> Outcomes:
    """Each workflow's result (read with 64 in flight), checked against the decision made."""
    found = Outcomes()

    async def check(workflow_id: str) -> None:
        handle = stack.client.get_workflow_handle_for(ApprovalWorkflow.run, workflow_id)
        try:
            async with asyncio.timeout(120):
                result: ApprovalResult = await handle.result()
        except WorkflowFailureError:
            found.failed += 1
            found.lost += 1
            return
        if result.approved and result.decided_by == decided_by(tag, workflow_id):
            found.resumed += 1
        else:
            found.lost += 1

    await bounded(workflow_ids, check, 64)
    return found


async def last_close(stack: Stack, workflow_ids: Sequence[str], since: datetime) -> float:
    """Seconds from ``since`` to the last close among these workflows (visibility's close
    times; the server runs on this machine's clock); NaN when none has closed."""
    wanted = set(workflow_ids)
    closes: list[datetime] = []
    async for execution in stack.client.list_workflows(closed_approvals(), page_size=1000):
        if execution.id in wanted and execution.close_time is not None:
            closes.append(execution.close_time)
    return (max(closes) - since).total_seconds() if closes else math.nan


async def wait_steady(
    measure: Callable[[], int], total: int, *, stall: float, limit: float
) -> tuple[float, int]:
    """Seconds until ``measure()`` reaches ``total`` or stops growing for ``stall`` seconds
    (read every 200 ms, at most ``limit`` seconds), and its last value."""
    began = last_growth = time.perf_counter()
    value = -1
    while True:
        now = time.perf_counter()
        latest = measure()
        if latest > value:
            value, last_growth = latest, now
        if value >= total or now - last_growth > stall or now - began > limit:
            return (last_growth if value < total else now) - began, value
        await asyncio.sleep(0.2)


async def count(stack: Stack, query: str) -> int:
    return (await stack.client.count_workflows(query)).count


def running_approvals() -> str:
    return (
        f"TaskQueue = '{TASK_QUEUE}' AND WorkflowType = 'ApprovalWorkflow' "
        "AND ExecutionStatus = 'Running'"
    )


def closed_approvals() -> str:
    return (
        f"TaskQueue = '{TASK_QUEUE}' AND WorkflowType = 'ApprovalWorkflow' "
        "AND ExecutionStatus != 'Running'"
    )
