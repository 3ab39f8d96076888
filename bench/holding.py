"""Holding N pending approvals on one worker and one dev server, started paced.

The levels are reached one after the other (1,000, then 4,000 more, ...). At
each level, once every request is waiting and the stack has settled, it reads:
the worker's RSS (and KiB per pending approval beyond the worker's workflow
cache), the pending activities of a random sample of the waiting workflows
(``describe``), the running approvals Temporal counts (visibility), the server's
CPU per second over the window right after the starts (each listener pass lists
again what started within its listing margin before the previous pass), then,
once no pass can list them, the server's and the worker's over idle windows
(the steady state, which the target is about), and the WebSockets the platform
counts (:mod:`bench.platform`). The baseline row is the same stack idle, with
no approval, measured first in the same run. Each steady figure, the baseline's
too, is the median of ``WINDOWS`` consecutive windows: the dev server's CPU over
one window is a draw (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import subprocess
from dataclasses import dataclass

from bench.audit_watch import AuditTail
from bench.driving import count, ids, running_approvals, start_approval, start_paced
from bench.processes import (
    Stack,
    cpu_seconds,
    platform_websockets,
    rss_mib,
    sockets_to,
    wait_websockets,
)
from bench.report import kib, ratio, table, verdict
from durable_approvals.activities.listener import ListenerTuning
from durable_approvals.settings import Settings

SETTLE = 10.0
_TUNING = ListenerTuning()
LISTED_AGAIN_FOR = _TUNING.listing_margin + _TUNING.reconcile_interval
"""Seconds after its start during which an approval can be listed again by a pass."""
SAMPLE = 20
KIB_PER_PENDING = 5.0
CPU_TOLERANCE = 1.5  # "waiting costs nothing": the idle server, give or take this factor
WINDOWS = 3


@dataclass
class Idle:
    rss: float
    server_cpu: float
    worker_cpu: float


async def _idle(stack: Stack, worker: subprocess.Popen[bytes], window: float) -> Idle:
    server0, worker0 = cpu_seconds(stack.temporal.pid), cpu_seconds(worker.pid)
    await asyncio.sleep(window)
    return Idle(
        rss=rss_mib(worker),
        server_cpu=(cpu_seconds(stack.temporal.pid) - server0) / window,
        worker_cpu=(cpu_seconds(worker.pid) - worker0) / window,
    )


async def _steady(stack: Stack, worker: subprocess.Popen[bytes], window: float) -> Idle:
    """``WINDOWS`` consecutive windows; each figure their median (RSS: the last window's)."""
    windows = [await _idle(stack, worker, window) for _ in range(WINDOWS)]
    return Idle(
        rss=windows[-1].rss,
        server_cpu=statistics.median(w.server_cpu for w in windows),
        worker_cpu=statistics.median(w.worker_cpu for w in windows),
    )


async def _pending_activities(stack: Stack, workflow_ids: list[str]) -> int:
    total = 0
    for workflow_id in random.sample(workflow_ids, min(SAMPLE, len(workflow_ids))):
        described = await stack.client.get_workflow_handle(workflow_id).describe()
        total += len(described.raw_description.pending_activities)
    return total


async def run(stack: Stack, levels: list[int], window: float, cache: int | None = None) -> str:
    """``cache``: the worker's WORKER_MAX_CACHED_WORKFLOWS (default: the product's)."""
    cache = cache or Settings().worker_max_cached_workflows
    worker = stack.start_worker(WORKER_MAX_CACHED_WORKFLOWS=str(cache))
    await wait_websockets(stack, 1, limit=60)
    await asyncio.sleep(SETTLE)
    idle = await _steady(stack, worker, window)
    idle_sockets = await platform_websockets(stack)
    idle_tcp = sockets_to(worker, stack.platform_port)
    tail = AuditTail(stack.audit_path)
    rows: list[list[object]] = [
        [
            "0 (idle stack)",
            "",
            idle.rss,
            "",
            "",
            "",
            "",
            idle.server_cpu,
            "1.00x",
            idle.worker_cpu,
            idle_sockets,
            idle_tcp,
            "",
            "",
            "baseline",
            verdict(idle_sockets == 1),
        ]
    ]
    at_cache: tuple[int, float] | None = None
    started = 0
    for level in levels:
        workflow_ids = ids("hold", level)
        paced = await start_paced(stack, start_approval, tail, workflow_ids[started:])
        started = level
        await asyncio.sleep(SETTLE)
        running = await count(stack, running_approvals())
        sampled = await _pending_activities(stack, workflow_ids)
        fresh = await _idle(stack, worker, window)
        await asyncio.sleep(max(0.0, LISTED_AGAIN_FOR - window))
        held = await _steady(stack, worker, window)
        sockets = await platform_websockets(stack)
        tcp = sockets_to(worker, stack.platform_port)
        if at_cache is None and level >= cache:
            at_cache = (level, held.rss)
        per_pending: float | None = None
        if at_cache is not None and level > at_cache[0]:
            per_pending = kib(held.rss - at_cache[1]) / (level - at_cache[0])
        rss_ok = per_pending is None or per_pending <= KIB_PER_PENDING
        rows.append(
            [
                level,
                running,
                held.rss,
                "" if per_pending is None else per_pending,
                f"{sampled} in {min(SAMPLE, level)}",
                level / paced,
                fresh.server_cpu,
                held.server_cpu,
                ratio(held.server_cpu, idle.server_cpu),
                held.worker_cpu,
                sockets,
                tcp,
                "" if per_pending is None else verdict(rss_ok),
                verdict(sampled == 0 and running == level),
                verdict(held.server_cpu <= CPU_TOLERANCE * idle.server_cpu),
                verdict(sockets == 1),
            ]
        )
    return table(
        f"holding N pending on one worker (paced starts; steady CPU: the median of {WINDOWS}"
        f" {window:g} s windows)",
        [
            "N",
            "running (visibility)",
            "worker RSS MiB",
            "KiB/pending beyond cache",
            "pending activities (sample)",
            "paced starts/s",
            "server CPU s/s, window after the starts",
            "server CPU s/s",
            "x idle",
            "worker CPU s/s",
            "WebSockets",
            "TCP worker→platform",
            f"RSS ≤ {KIB_PER_PENDING:g} KiB/pending beyond the cache ({cache})",
            "0 activities, N running",
            f"server CPU ≤ {CPU_TOLERANCE:g}x idle",
            "1 WebSocket",
        ],
        rows,
    )
