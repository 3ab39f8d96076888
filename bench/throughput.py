"""Requests per second, from the agent's request to the approval waiting on the platform.

``count`` workflows are started at once; "waiting" is the ``requested`` audit
record, written after RBAC and create. The baseline is the same number of bare
create POSTs to the platform (no Temporal, no RBAC, no audit).
"""

from __future__ import annotations

import time

from bench import audit_watch
from bench.driving import bounded, request, start
from bench.processes import Stack
from bench.report import ratio, table


async def run(stack: Stack, count: int) -> str:
    stack.start_worker()
    audit = stack.data_dir / "audit.jsonl"
    await bounded(range(5), lambda _: start(stack, request()))  # warm-up
    await audit_watch.wait_for(audit, "requested", 5, limit=120)

    began = time.perf_counter()
    await bounded(range(count), lambda _: start(stack, request()), concurrency=count)
    started = time.perf_counter() - began
    await audit_watch.wait_for(audit, "requested", count + 5, limit=600)
    waiting = time.perf_counter() - began

    api = stack.api()
    began = time.perf_counter()
    await bounded(
        range(count),
        lambda n: api.create_approval("baseline", "bare POST", idempotency_key=f"tp-{n}"),
        concurrency=64,
    )
    bare = time.perf_counter() - began
    rate, bare_rate = count / waiting, count / bare
    return table(
        f"request throughput ({count} concurrent requests)",
        ["measure", "seconds", "approvals/s", "x base"],
        [
            ["all workflows started", started, count / started, ratio(count / started, bare_rate)],
            ["all waiting (requested audited)", waiting, rate, ratio(rate, bare_rate)],
            ["baseline: bare create POSTs", bare, bare_rate, "1.00x"],
        ],
    )
