"""The workload: approvals started at a steady pace, each driven by its plan (decided
before or after its deadline, one way or two), all through the faults."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from durable_approvals.models import ApprovalRequest
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import wait_pending
from tests.soak.plans import Plan, edited, make_plan, request_for
from tests.soak.stack import Side, Stack
from tests.soak.ways import Attempt, send

PENDING_BOUND = 180.0
SECOND_AFTER = 3.0
"""A second decider comes this many seconds after the first answered."""


@dataclass
class Approval:
    """One approval of the soak: its plan, request, workflow and what was sent to it."""

    plan: Plan
    request: ApprovalRequest
    workflow_id: str
    side: Side
    approval_id: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    problem: str | None = None


async def _start(client: Client, approval: Approval) -> WorkflowHandle[Any, Any]:
    for _ in range(120):
        try:
            return await client.start_workflow(
                ApprovalWorkflow.run,
                approval.request,
                id=approval.workflow_id,
                task_queue=approval.side.task_queue,
            )
        except WorkflowAlreadyStartedError:  # an earlier try got through
            return client.get_workflow_handle(approval.workflow_id)
        except RPCError:
            await asyncio.sleep(0.5)
    raise RuntimeError(f"{approval.workflow_id}: could not start")


async def drive(stack: Stack, approval: Approval, rng: random.Random) -> None:
    """Start the approval and send its plan's decisions; problems are kept, not raised."""
    plan = approval.plan
    try:
        handle = await _start(stack.client, approval)
        handle_started = asyncio.get_running_loop().time()
        approval.approval_id = await wait_pending(handle, timeout=PENDING_BOUND)
    except Exception as error:
        approval.problem = f"never pending: {type(error).__name__}: {error}"[:300]
        return
    await asyncio.sleep(_wait_before_deciding(approval, handle_started))
    voters = 2 if plan.policy == "votes" else 1
    for n in range(voters):
        approved = plan.approved if n == 0 or rng.random() < 0.8 else not plan.approved
        await _send(stack, approval, handle, plan.way, f"{plan.way}-{plan.number}-{n}", approved)
        if voters > 1:
            await asyncio.sleep(rng.uniform(0.2, 2.0))
    if plan.second_way is not None:
        await asyncio.sleep(SECOND_AFTER)
        await _send(
            stack,
            approval,
            handle,
            plan.second_way,
            f"{plan.second_way}-{plan.number}-b",
            not plan.approved,
        )


async def _send(
    stack: Stack,
    approval: Approval,
    handle: WorkflowHandle[Any, Any],
    way: str,
    decided_by: str,
    approved: bool,
) -> None:
    assert approval.approval_id is not None
    edit = edited(approval.request) if approval.plan.policy == "edits" else None
    approval.attempts.append(
        await send(
            way,
            side=approval.side,
            client=stack.client,
            handle=handle,
            request=approval.request,
            approval_id=approval.approval_id,
            decided_by=decided_by,
            approved=approved,
            edit=edit,
        )
    )


def _wait_before_deciding(approval: Approval, started: float) -> float:
    """Seconds from now to the plan's moment: within the wait, around the deadline (as
    seen from the start call), or after it."""
    plan, total = approval.plan, approval.request.total_timeout_seconds
    if plan.timing == "before":
        return plan.delay * total * 0.6
    deadline_in = started + total - asyncio.get_running_loop().time()
    if plan.timing == "around":
        return max(0.0, deadline_in + (plan.delay - 0.6) * 2)
    return max(0.0, deadline_in) + plan.delay


def schedule(
    rng: random.Random, modes: tuple[str, ...]
) -> Iterator[tuple[Plan, ApprovalRequest, float, float]]:
    """The seeded workload, approval after approval: its plan, its request, the seed of
    its own draws (``drive``) and the pause before the next one (times ``every``)."""
    number = 0
    while True:
        plan = make_plan(rng, number, modes)
        request = request_for(plan, rng)
        yield plan, request, rng.random(), rng.uniform(0.5, 1.5)
        number += 1


def planned_attempts(plan: Plan, drive_seed: float) -> list[tuple[str, str, bool]]:
    """(way, decided_by, approved) of each decision ``drive`` sends for ``plan`` (its
    draws replayed), for judging a soak again from its output (``--rejudge``)."""
    rng = random.Random(drive_seed)
    sent = [(plan.way, f"{plan.way}-{plan.number}-0", plan.approved)]
    if plan.policy == "votes":
        rng.uniform(0.2, 2.0)
        approved = plan.approved if rng.random() < 0.8 else not plan.approved
        sent.append((plan.way, f"{plan.way}-{plan.number}-1", approved))
    if plan.second_way is not None:
        sent.append((plan.second_way, f"{plan.second_way}-{plan.number}-b", not plan.approved))
    return sent


async def run_workload(
    stack: Stack, rng: random.Random, seconds: float, every: float
) -> list[Approval]:
    """Start an approval every ``every`` seconds (jittered) for ``seconds``; returns them
    once each one's plan has been sent."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    by_mode = {side.mode: side for side in stack.sides}
    approvals: list[Approval] = []
    tasks = []
    for plan, request, drive_seed, pause in schedule(rng, tuple(by_mode)):
        if loop.time() >= until:
            break
        workflow_id = f"soak-{plan.number}-{uuid.uuid4().hex[:8]}"
        approval = Approval(plan, request, workflow_id, by_mode[plan.mode])
        approvals.append(approval)
        tasks.append(asyncio.create_task(drive(stack, approval, random.Random(drive_seed))))
        await asyncio.sleep(pause * every)
    await asyncio.gather(*tasks)
    return approvals
