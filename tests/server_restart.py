"""Promises 1 and 5 across a Temporal outage: the dev server stops and starts again
on the same SQLite file while approvals wait.

A real ``temporal server start-dev --db-filename`` (bench/processes.py), the
platform and a worker, each its own process. With every approval waiting (no
activity of its own) and the worker's workspace listener holding the platform
socket, the server is stopped (SIGTERM); half the approvals are decided while it
is down (the listener hears them but can neither find nor signal their
workflows, and its session can no longer heartbeat), then the server starts
again on the same port and file, and the other half are decided. Counted per
approval, as in tests/crash_stages.py: lost (a result that is not the human's
decision, a missing audit record), duplicated (more than one request, an audit
event written twice), hung (no result within the bound). Used by
``tests/test_server_restart.py`` and the fault-suite command.

``platform_mode="strict"`` runs the same outage against a strict platform (the
upstream contract alone, docs/platform-modes.md) served in this process, with its
token; the stack's own (reference) platform process then stands idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError

from bench.processes import TASK_QUEUE, WORKSPACE, Stack, platform_websockets, stack
from durable_approvals.activities.approval_index import ApprovalIndex
from durable_approvals.audit_log import AuditLog
from durable_approvals.models import ApprovalRequest, ApprovalResult, ApprovalStatus
from durable_approvals.platform_client import PlatformClient
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import PLATFORM_TOKEN, eventually, start_platform, wait_pending

Handle = WorkflowHandle[ApprovalWorkflow, ApprovalResult]

RESULT_BOUND = 120.0
HEARTBEAT_TIMEOUT = 5.0
"""APPROVAL_HEARTBEAT_TIMEOUT of the worker (production default 30 s)."""


async def _start(running: Stack) -> Handle:
    request = ApprovalRequest(
        workspace_id=WORKSPACE, action="outage action", reason="restart", timeout_seconds=600
    )
    return await running.client.start_workflow(
        ApprovalWorkflow.run, request, id=f"restart-{uuid.uuid4()}", task_queue=TASK_QUEUE
    )


@dataclass
class Platform:
    """The platform the worker uses: its API, its open sockets, the worker's env for it."""

    api: Callable[[], PlatformClient]
    websockets: Callable[[], Awaitable[int]]
    worker_env: dict[str, str]


@contextlib.asynccontextmanager
async def _platform(running: Stack, mode: str, work_dir: Path) -> AsyncIterator[Platform]:
    if mode == "reference":  # the stack's own platform process
        yield Platform(running.api, lambda: platform_websockets(running), {})
        return
    server = await start_platform(work_dir / f"platform-{mode}.db", mode)

    def api() -> PlatformClient:
        return PlatformClient(
            http=running.http, base_url=server.url, workspace_id=WORKSPACE, token=PLATFORM_TOKEN
        )

    async def websockets() -> int:
        return server.hub.connection_count()

    try:
        yield Platform(
            api, websockets, {"PLATFORM_URL": server.url, "WORKSPACE_TOKEN": PLATFORM_TOKEN}
        )
    finally:
        await server.stop()


async def _listened(running: Stack, platform: Platform, approval_ids: list[str]) -> None:
    """Until the listener holds its socket and can find every waiting workflow."""
    index = ApprovalIndex(running.client, TASK_QUEUE, WORKSPACE)

    async def all_findable() -> bool:
        pending: dict[str, Any] = await index.pending()
        return set(approval_ids) <= set(pending) and await platform.websockets() >= 1

    await eventually(all_findable, timeout=60, interval=0.2)


async def _decide(platform: Platform, approval_id: str, approved: bool) -> None:
    await platform.api().decide(approval_id, approved=approved, decided_by="outage-reviewer")


def _judge(
    stack_: Stack,
    handle: Handle,
    approval_id: str,
    approved: bool,
    result: ApprovalResult | str | None,
) -> tuple[bool, bool, bool, str]:
    """(lost, duplicated, hung, detail) for one approval."""
    if result is None:
        return False, False, True, f"{handle.id}: no result in time"
    if isinstance(result, str):
        return True, False, False, f"{handle.id}: {result}"
    expected = ApprovalStatus.GRANTED if approved else ApprovalStatus.DENIED
    records = [
        r
        for r in AuditLog(stack_.data_dir / "audit.jsonl").records()
        if r["event_id"].startswith(f"{handle.id}/")
    ]
    written = Counter(r["event_id"] for r in records)
    outcomes = [r["outcome"] for r in records]
    wanted = ["requested", "granted" if approved else "denied"]
    lost = result.status is not expected or result.approval_id != approval_id
    duplicated = any(n > 1 for n in written.values()) or len(outcomes) > len(wanted)
    lost = lost or (not duplicated and outcomes != wanted)
    detail = f"{handle.id}: {result.status.value}, audit {outcomes}" if lost or duplicated else ""
    return lost, duplicated, False, detail


async def run_restart(
    work_dir: Path, approvals: int = 6, down_seconds: float = 3.0, platform_mode: str = "reference"
) -> tuple[str, int, int, int, int, list[str]]:
    """One outage with ``approvals`` waiting: ``(fault, runs, lost, dup, hung, details)``."""
    async with stack(work_dir) as running, _platform(running, platform_mode, work_dir) as platform:
        running.start_worker(
            APPROVAL_HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT), **platform.worker_env
        )
        handles = [await _start(running) for _ in range(approvals)]
        approval_ids = [await wait_pending(handle, 60) for handle in handles]
        await _listened(running, platform, approval_ids)
        answers = [random.choice([True, False]) for _ in handles]
        half = approvals // 2

        await asyncio.to_thread(running.stop_temporal)
        for approval_id, approved in zip(approval_ids[:half], answers[:half], strict=True):
            await _decide(platform, approval_id, approved)
        await asyncio.sleep(down_seconds)
        await asyncio.to_thread(running.start_temporal)
        for approval_id, approved in zip(approval_ids[half:], answers[half:], strict=True):
            await _decide(platform, approval_id, approved)

        async def result_of(handle: Handle) -> ApprovalResult | str | None:
            try:
                return await asyncio.wait_for(handle.result(), RESULT_BOUND)
            except TimeoutError:
                return None
            except (RPCError, WorkflowFailureError) as error:
                return f"no result: {error}"  # e.g. the server forgot the workflow

        results = await asyncio.gather(*(result_of(handle) for handle in handles))
        requests = len(await platform.api().list_approvals())
        judged = [
            _judge(running, *case)
            for case in zip(handles, approval_ids, answers, results, strict=True)
        ]
    lost = sum(j[0] for j in judged)
    duplicated = sum(j[1] for j in judged) + max(0, requests - approvals)
    hung = sum(j[2] for j in judged)
    details = [j[3] for j in judged if j[3]]
    if requests != approvals:
        details.append(f"{requests} requests on the platform for {approvals} approvals")
    return "Temporal dev server restarted (same SQLite)", approvals, lost, duplicated, hung, details
