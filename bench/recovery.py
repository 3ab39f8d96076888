"""Recovery: SIGKILL the worker that runs the listener with N pending, decide all while it is
down, start a worker; and the same drain with no crash, in the same run.

The calm drain is timed from the first decide POST to the last workflow close;
the recovery from the new worker's start to the last close (the decisions were
all made while no worker ran), and also from the kill. Target: recovery ≤
the listener's heartbeat timeout + the calm drain + 5 s.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from bench.audit_watch import AuditTail, decided_of
from bench.driving import (
    decide_all,
    ids,
    last_close,
    outcomes,
    start_approval,
    start_paced,
)
from bench.processes import Stack, kill, wait_websockets
from bench.report import ratio, table, verdict
from bench.takeover import listener_attempt

SETTLE = 5.0


async def run(stack: Stack, total: int, heartbeat_timeout: float) -> str:
    env = {"APPROVAL_HEARTBEAT_TIMEOUT": f"{heartbeat_timeout:g}"}
    worker = stack.start_worker(**env)
    await wait_websockets(stack, 1, limit=60)
    tail = AuditTail(stack.audit_path)

    calm_ids = ids("calm", total)
    await start_paced(stack, start_approval, tail, calm_ids)
    await asyncio.sleep(SETTLE)
    since = datetime.now(UTC)
    calm_decide = await decide_all(stack, tail, calm_ids, "calm")
    await tail.wait(decided_of(calm_ids), limit=3600)
    calm = await last_close(stack, calm_ids, since)
    calm_found = await outcomes(stack, calm_ids, "calm")

    crash_ids = ids("crash", total)
    await start_paced(stack, start_approval, tail, crash_ids)
    await asyncio.sleep(SETTLE)
    killed_at = datetime.now(UTC)
    await asyncio.to_thread(kill, worker)
    crash_decide = await decide_all(stack, tail, crash_ids, "crash")
    restarted_at = datetime.now(UTC)
    began = time.perf_counter()
    stack.start_worker(**env)
    await tail.wait(decided_of(crash_ids), limit=3600)
    waited = time.perf_counter() - began
    recovered = await last_close(stack, crash_ids, restarted_at)
    from_kill = await last_close(stack, crash_ids, killed_at)
    crash_found = await outcomes(stack, crash_ids, "crash")
    attempt = await listener_attempt(stack)
    limit = heartbeat_timeout + calm + 5
    return table(
        f"recovery: SIGKILL the listener's worker with {total} pending, decide all while it is"
        f" down, start a worker (listener heartbeat timeout {heartbeat_timeout:g} s)",
        ["case", "decide s", "all resumed s", "x calm", "resumed", "lost", "target", "met"],
        [
            [
                "calm: same drain, no crash (first decision → last close)",
                calm_decide,
                calm,
                "1.00x",
                calm_found.resumed,
                calm_found.lost,
                "baseline; 0 lost",
                verdict(calm_found.lost == 0),
            ],
            [
                "crash: new worker start → last close",
                crash_decide,
                recovered,
                ratio(recovered, calm),
                crash_found.resumed,
                crash_found.lost,
                f"≤ {heartbeat_timeout:g} + {calm:.1f} + 5 = {limit:.1f} s; 0 lost",
                verdict(recovered <= limit and crash_found.lost == 0),
            ],
            [
                "crash: from the SIGKILL (decisions made meanwhile)",
                "",
                from_kill,
                ratio(from_kill, calm),
                "",
                "",
                f"(audit seen {waited:.1f} s after the start)",
                "",
            ],
            ["crash: after the drain, " + attempt, "", "", "", "", "", "", ""],
        ],
    )
