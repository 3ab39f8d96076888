"""Holding N pending approvals on one worker, then draining them after a mass decision.

Figures: worker RSS and its sockets to the platform while N wait, the server's
CPU spent per second of waiting (heartbeats, timers), then the time from the
first decision to the last workflow result, with the count of results that do
not carry the decision made (lost). Baselines in the same run: the same worker
idle, the server idle, and the time the decisions alone took to issue.
"""

from __future__ import annotations

import asyncio
import time

from bench import audit_watch
from bench.driving import Handle, bounded, request, start, wait_listening
from bench.processes import Stack, cpu_seconds, platform_websockets, rss_mib, sockets_to
from bench.report import ratio, table
from workflows.approval import ApprovalWorkflow

IDLE_WINDOW = 10.0


async def _server_cpu_per_second(stack: Stack) -> float:
    before = cpu_seconds(stack.temporal.pid)
    await asyncio.sleep(IDLE_WINDOW)
    return (cpu_seconds(stack.temporal.pid) - before) / IDLE_WINDOW


async def hold_and_drain(stack: Stack, count: int, heartbeat_timeout: float) -> list[object]:
    worker = stack.start_worker()
    audit = stack.data_dir / "audit.jsonl"
    before = await asyncio.to_thread(audit_watch.count, audit, "requested")
    await asyncio.sleep(3)
    idle_rss = rss_mib(worker)
    idle_cpu = await _server_cpu_per_second(stack)

    approval = request(heartbeat_timeout=heartbeat_timeout)
    handles: list[Handle] = await bounded(range(count), lambda _: start(stack, approval), 500)
    await audit_watch.wait_for(audit, "requested", before + count, limit=1800)
    await bounded(handles, wait_listening, 64)
    views = await bounded(handles, lambda h: h.query(ApprovalWorkflow.status), 64)
    approval_ids = [str(view.approval_id) for view in views]
    await asyncio.sleep(2)
    held_rss = rss_mib(worker)
    sockets = sockets_to(worker, stack.platform_port)
    websockets = await platform_websockets(stack)
    held_cpu = await _server_cpu_per_second(stack)

    api = stack.api()
    results = [asyncio.ensure_future(h.result()) for h in handles]
    began = time.perf_counter()
    await bounded(
        list(enumerate(approval_ids)),
        lambda item: api.decide(item[1], approved=True, decided_by=f"mass-{item[0]}"),
        64,
    )
    issued = time.perf_counter() - began
    done = await asyncio.gather(*results)
    drained = time.perf_counter() - began
    lost = sum(
        1
        for n, result in enumerate(done)
        if not result.approved or result.decided_by != f"mass-{n}"
    )
    worker.terminate()
    await asyncio.to_thread(worker.wait, 30)
    return [
        count,
        heartbeat_timeout,
        held_rss,
        ratio(held_rss, idle_rss),
        websockets,
        sockets,
        held_cpu,
        ratio(held_cpu, idle_cpu),
        issued,
        drained,
        ratio(drained, issued),
        lost,
    ]


async def run(stack: Stack, counts: list[int], heartbeat_timeout: float) -> str:
    rows = [await hold_and_drain(stack, count, heartbeat_timeout) for count in counts]
    return table(
        "holding N pending approvals on one worker, then a mass decision",
        [
            "N",
            "heartbeat timeout s",
            "worker RSS MiB",
            "x idle",
            "WebSockets",
            "TCP to platform",
            "server CPU s/s",
            "x idle",
            "decide s",
            "drain s",
            "x decide",
            "lost",
        ],
        rows,
    )
