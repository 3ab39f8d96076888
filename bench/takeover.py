"""Two workers: one WebSocket per workspace in total; SIGKILL the one that runs the listener.

With both workers up and N approvals waiting, the platform must count one
WebSocket. Then the worker whose identity holds the listener activity
(``describe`` of the listener workflow) is SIGKILLed and every approval is
decided at once, while no listener runs. Measured from the kill: the moment
the listener activity runs again on the other worker with its socket open (the
takeover), and the last workflow close; every result is checked.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from datetime import UTC, datetime

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflow.v1 import PendingActivityInfo

from bench.audit_watch import AuditTail, decided_of
from bench.driving import decide_all, ids, last_close, outcomes, start_approval, start_paced
from bench.processes import (
    TASK_QUEUE,
    WORKSPACE,
    Stack,
    kill,
    platform_websockets,
    wait_websockets,
)
from bench.report import table, verdict
from durable_approvals.workflows.listener import listener_workflow_id

STARTED = PendingActivityState.PENDING_ACTIVITY_STATE_STARTED


async def _listener_activities(stack: Stack) -> list[PendingActivityInfo]:
    """The listener workflow's pending activities (its one session, when it runs)."""
    handle = stack.client.get_workflow_handle(listener_workflow_id(WORKSPACE, TASK_QUEUE))
    return list((await handle.describe()).raw_description.pending_activities)


async def listener_pid(stack: Stack) -> int | None:
    """The pid of the worker whose listener activity is running (its identity is pid@host)."""
    for pending in await _listener_activities(stack):
        if pending.state == STARTED and pending.last_worker_identity:
            return int(pending.last_worker_identity.split("@", 1)[0])
    return None


async def listener_attempt(stack: Stack) -> str:
    """The running listener activity's attempt and the failure that ended the one before
    (a heartbeat timeout per attempt after a kill: one expected, more are the why of a
    slow recovery)."""
    for pending in await _listener_activities(stack):
        failure = pending.last_failure.message if pending.HasField("last_failure") else "none"
        return f"listener attempt {pending.attempt} (last failure: {failure})"
    return "no listener activity pending"


async def _taken_over(stack: Stack, survivor: subprocess.Popen[bytes], limit: float) -> float:
    """Seconds until the survivor runs the listener and the platform counts its socket."""
    began = time.perf_counter()
    async with asyncio.timeout(limit):
        while True:
            if await listener_pid(stack) == survivor.pid and await platform_websockets(stack) == 1:
                break
            await asyncio.sleep(0.1)
    return time.perf_counter() - began


async def run(stack: Stack, total: int, heartbeat_timeout: float) -> str:
    env = {"APPROVAL_HEARTBEAT_TIMEOUT": f"{heartbeat_timeout:g}"}
    first = stack.start_worker(**env)
    await wait_websockets(stack, 1, limit=60)
    second = stack.start_worker(**env)
    tail = AuditTail(stack.audit_path)
    workflow_ids = ids("two", total)
    await start_paced(stack, start_approval, tail, workflow_ids)
    await asyncio.sleep(5)
    sockets_two = await platform_websockets(stack)
    pid = await listener_pid(stack)
    victim, survivor = (first, second) if pid == first.pid else (second, first)
    if pid not in (first.pid, second.pid):
        raise RuntimeError(f"the listener runs on pid {pid}, neither worker's")

    killed_at = datetime.now(UTC)
    await asyncio.to_thread(kill, victim)
    taking_over = asyncio.ensure_future(_taken_over(stack, survivor, heartbeat_timeout + 120))
    deciding = await decide_all(stack, tail, workflow_ids, "two")
    takeover = await taking_over
    await tail.wait(decided_of(workflow_ids), limit=1800)
    drained = await last_close(stack, workflow_ids, killed_at)
    found = await outcomes(stack, workflow_ids, "two")
    sockets_after = await platform_websockets(stack)
    limit = heartbeat_timeout + 5
    return table(
        f"two workers, {total} pending; SIGKILL the one running the listener, decide all at once"
        f" (listener heartbeat timeout {heartbeat_timeout:g} s)",
        ["measure", "value", "target", "met"],
        [
            ["platform WebSockets, two workers up", sockets_two, "1", verdict(sockets_two == 1)],
            [
                "kill → listener running on the other worker, socket open (s)",
                takeover,
                f"≤ {heartbeat_timeout:g} + 5 = {limit:g} s",
                verdict(takeover <= limit),
            ],
            ["decisions made after the kill (s to issue)", deciding, "", ""],
            ["kill → last workflow closed (s)", drained, "", ""],
            ["agents resumed with their decision", found.resumed, f"{total}", ""],
            ["lost", found.lost, "0", verdict(found.lost == 0)],
            ["platform WebSockets after takeover", sockets_after, "1", verdict(sockets_after == 1)],
        ],
    )
