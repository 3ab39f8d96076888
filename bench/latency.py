"""Decision → agent resumed: WebSocket path, polling path, and a no-Temporal baseline.

Decisions are made one every ``gap`` seconds while every approval waits, and each
latency is timed on its own, from just before the decide POST to the moment the
waiter has the answer (the workflow result for our paths). The baseline is the
reference tool's approach: a plain asyncio waiter on one platform socket.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from websockets.asyncio.client import connect

from approvals.models import WebSocketMode
from bench.driving import Handle, bounded, request, start, wait_listening, wait_pending
from bench.processes import Stack
from bench.report import percentile, ratio, table


async def _spaced(
    approval_ids: list[str], stack: Stack, resumed: Callable[[int], Awaitable[object]], gap: float
) -> list[float]:
    api = stack.api()

    async def one(n: int, approval_id: str) -> float:
        await asyncio.sleep(n * gap)
        waiter = asyncio.ensure_future(resumed(n))
        began = time.perf_counter()
        await api.decide(approval_id, approved=True, decided_by="bench")
        await waiter
        return time.perf_counter() - began

    return list(await asyncio.gather(*(one(n, a) for n, a in enumerate(approval_ids))))


async def workflow_path(
    stack: Stack, count: int, mode: WebSocketMode, poll_interval: float, gap: float
) -> list[float]:
    approval = request(websocket=mode, poll_interval=poll_interval)
    handles: list[Handle] = await bounded(range(count), lambda _: start(stack, approval))
    approval_ids = await bounded(handles, wait_pending)
    await bounded(handles, wait_listening)
    results = [asyncio.ensure_future(h.result()) for h in handles]

    async def resumed(n: int) -> object:
        return await results[n]

    return await _spaced(approval_ids, stack, resumed, gap)


async def baseline(stack: Stack, count: int, gap: float) -> list[float]:
    api = stack.api()
    approval_ids = await bounded(
        range(count),
        lambda n: api.create_approval("baseline", "measuring", idempotency_key=f"base-{n}"),
    )
    futures = {a: asyncio.get_running_loop().create_future() for a in approval_ids}
    url = stack.platform_url.replace("http", "ws", 1) + "/ws"
    async with connect(url, additional_headers=api.headers()) as socket:

        async def read() -> None:
            async for frame in socket:
                payload = json.loads(frame).get("payload") or {}
                future = futures.get(str(payload.get("approval_id")))
                if future is not None and not future.done():
                    future.set_result(payload)

        reader = asyncio.create_task(read())

        async def resumed(n: int) -> object:
            return await futures[approval_ids[n]]

        try:
            return await _spaced(approval_ids, stack, resumed, gap)
        finally:
            reader.cancel()


async def run(stack: Stack, count: int, poll_interval: float, gap: float) -> str:
    stack.start_worker()
    await workflow_path(stack, 5, WebSocketMode.AUTO, poll_interval, 0.05)  # warm-up
    ws = await workflow_path(stack, count, WebSocketMode.AUTO, poll_interval, gap)
    polling = await workflow_path(stack, count, WebSocketMode.FALSE, poll_interval, gap)
    base = await baseline(stack, count, gap)
    rows = []
    for name, values in (("WebSocket path", ws), (f"polling ({poll_interval}s)", polling)):
        cells: list[object] = [name, len(values)]
        for q in (50, 95, 99):
            ms, base_ms = percentile(values, q) * 1000, percentile(base, q) * 1000
            cells += [ms, ratio(ms, base_ms)]
        rows.append(cells)
    rows.append(
        ["baseline: asyncio waiter, no Temporal", len(base)]
        + [v for q in (50, 95, 99) for v in (percentile(base, q) * 1000, "1.00x")]
    )
    return table(
        "decision → agent resumed (ms; ratio to baseline)",
        ["path", "n", "p50", "x base", "p95", "x base", "p99", "x base"],
        rows,
    )
