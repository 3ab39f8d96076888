"""Helpers for workflow tests: a worker on a fresh task queue, starting and finishing
approvals, reading the audit trail, and recording histories for the replay test."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowHistory

from durable_approvals.activities.listener import ListenerTuning
from durable_approvals.audit_log import AuditLog
from durable_approvals.models import (
    ApprovalRequest,
    ApprovalResult,
    ApprovalState,
    ApprovalStatusView,
)
from durable_approvals.platform_client import PlatformClient
from durable_approvals.settings import Settings
from durable_approvals.worker import build_worker
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.platform_faults import FaultyPlatform

SERVER_STARTUP_TIMEOUT = timedelta(seconds=60)
"""How long a test may wait for a Temporal server to start (the SDK's default, 5 s, is
short on a loaded 2-core machine)."""
WORKSPACE = "ws-test"
PLATFORM_MODES = ("reference", "strict")
"""The reference platform's modes (docs/platform-modes.md)."""
PLATFORM_TOKEN = "strict-" + "platform-token-4711"
"""The bearer token of a strict platform in tests. No secret pattern matches it (no
``sk-``, no long mixed-case run, no ``token=`` label): only the worker's registering
its own token (``approvals.redaction.register_secret``) keeps it out of the audit."""
UNHANDLED_COMMAND = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND
HISTORIES_DIR = Path(__file__).parent / "histories"
HISTORY_SUFFIX = ""
"""Appended to recorded history names: ``_strict`` while the platform runs strict (set by
the ``platform`` fixture), so one test's two modes do not overwrite each other."""
ROOT = Path(__file__).resolve().parent.parent
REFERENCE_KEYS = {
    "granted": {"approved", "approval_id", "decided_by"},
    "denied": {"approved", "approval_id", "decided_by", "message"},
    "timeout": {"approved", "approval_id", "error"},
    "failure": {"approved", "error"},
    "rbac_denied": {"approved", "error"},
}


FAST_LISTENER = ListenerTuning(
    backoff=(0.1, 0.2, 0.4),
    socket_retry=2.0,
    settle=0.5,
    reconcile_interval=2.0,
    listing_margin=10.0,
)
"""Listener patience for tests: seconds instead of minutes."""


async def start_platform(db_path: Path, mode: str) -> FaultyPlatform:
    """A started platform in ``mode``: reference (open) or strict (``PLATFORM_TOKEN``
    required); its ``faults`` work in both."""
    if mode not in PLATFORM_MODES:
        raise ValueError(f"unknown platform mode {mode!r}")
    if mode == "strict":
        server = FaultyPlatform(db_path, token=PLATFORM_TOKEN, strict=True)
    else:
        server = FaultyPlatform(db_path)
    await server.start()
    return server


@contextlib.asynccontextmanager
async def running_worker(
    client: Client, settings: Settings, audit: AuditLog | None = None, **options: Any
) -> AsyncIterator[str]:
    """Run a worker (and its workspace listener) on a fresh task queue; yields the queue's name.
    It writes its audit through ``audit`` (default: a log at ``settings.audit_log_path``).

    The workflow cache stays on: with ``max_cached_workflows=0`` a workflow task
    that runs a local activity (the audit write) is dropped and redelivered
    only after the 10 s workflow task timeout. Determinism is guarded by
    ``test_replay`` over recorded histories instead.
    """
    task_queue = f"tq-{uuid.uuid4()}"
    options.setdefault("tuning", FAST_LISTENER)
    async with (
        build_worker(
            client,
            settings,
            audit or AuditLog(settings.audit_log_path),
            task_queue=task_queue,
            **options,
        ) as worker,
        worker,
    ):
        yield task_queue


def approval_request(**overrides: Any) -> ApprovalRequest:
    fields: dict[str, Any] = {
        "workspace_id": WORKSPACE,
        "action": "Drop the staging database",
        "reason": "It is being rebuilt from the latest snapshot",
        "timeout_seconds": 60,
    }
    fields.update(overrides)
    return ApprovalRequest(**fields)


async def start(
    client: Client, task_queue: str, request: ApprovalRequest | None = None
) -> WorkflowHandle[ApprovalWorkflow, ApprovalResult]:
    return await client.start_workflow(
        ApprovalWorkflow.run,
        request or approval_request(),
        id=f"approval-test-{uuid.uuid4()}",
        task_queue=task_queue,
    )


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 20.0, interval: float = 0.05
) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = await check()
        except Exception as error:  # the thing is not there yet
            last_error = error
        else:
            if value:
                return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last error: {last_error!r})")


async def wait_pending(handle: WorkflowHandle[Any, Any], timeout: float = 20.0) -> str:
    """Wait until the workflow has created its request; returns the approval id."""

    async def pending() -> str | None:
        view: ApprovalStatusView = await handle.query(ApprovalWorkflow.status)
        return view.approval_id if view.state is ApprovalState.PENDING else None

    approval_id: str = await eventually(pending, timeout=timeout)
    return approval_id


async def finish(
    handle: WorkflowHandle[Any, ApprovalResult], name: str, timeout: float = 30.0
) -> ApprovalResult:
    """The workflow's result; with RECORD_HISTORIES=<set> its history is saved for replay.

    Each set is a folder under ``tests/histories``: a change to the workflow adds a new
    set and keeps the old ones, which stand for workflows still running in production.
    """
    try:
        return await asyncio.wait_for(handle.result(), timeout)
    finally:  # failed and cancelled runs are histories to replay too
        if os.environ.get("RECORD_HISTORIES"):
            save_history(await handle.fetch_history(), name)


def save_history(history: WorkflowHistory, name: str) -> None:
    """Write ``history`` as ``<name>.json`` in the set ``RECORD_HISTORIES`` names: a folder of
    ``tests/histories`` (``release-1.0/baseline`` nests), or an absolute path."""
    folder = HISTORIES_DIR / os.environ["RECORD_HISTORIES"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}{HISTORY_SUFFIX}.json"
    path.write_text(history.to_json(), encoding="utf-8")


async def record_task_queue(client: Client, task_queue: str, name: str) -> int:
    """With ``RECORD_HISTORIES`` set, save every closed ``ApprovalWorkflow`` run of
    ``task_queue`` as ``<name>_<n>`` (in start order): for tests that reach approvals
    through an agent and hold no handle. Returns how many were saved."""
    if not os.environ.get("RECORD_HISTORIES"):
        return 0
    query = f"TaskQueue = '{task_queue}' AND WorkflowType = 'ApprovalWorkflow'"
    runs = sorted([run async for run in client.list_workflows(query)], key=lambda r: r.start_time)
    saved = 0
    for run in runs:
        handle = client.get_workflow_handle(run.id, run_id=run.run_id)
        if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
            continue
        saved += 1
        save_history(await handle.fetch_history(), f"{name}_{saved}")
    return saved


def audit_records(settings: Settings) -> list[dict[str, Any]]:
    return list(AuditLog(settings.audit_log_path).records())


def outcomes(settings: Settings) -> list[str]:
    return [record["outcome"] for record in audit_records(settings)]


@contextlib.asynccontextmanager
async def platform_client(settings: Settings) -> AsyncIterator[PlatformClient]:
    async with httpx.AsyncClient(timeout=5.0) as http:
        yield PlatformClient(
            http=http,
            base_url=settings.platform_url,
            workspace_id=settings.workspace_id,
            token=settings.bearer_token(),
        )


def assert_reference_shape(result: ApprovalResult) -> dict[str, Any]:
    """The result has the reference tool's keys for its outcome, and they survive JSON."""
    as_dict = result.as_tool_result()
    assert REFERENCE_KEYS[result.status.value] <= set(as_dict), as_dict
    assert json.loads(json.dumps(as_dict)) == as_dict
    return as_dict


def settings_env(client: Client, settings: Settings, task_queue: str) -> dict[str, str]:
    """The environment that gives a child process (worker, CLI, example) these settings,
    the platform token included when they have one."""
    token = settings.workspace_token.get_secret_value() if settings.workspace_token else None
    return {
        **os.environ,
        **({"WORKSPACE_TOKEN": token} if token else {}),
        "PLATFORM_URL": settings.platform_url,
        "WORKSPACE_ID": settings.workspace_id,
        "AUDIT_LOG_PATH": str(settings.audit_log_path),
        "RBAC_CONFIG_PATH": str(settings.rbac_config_path),
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
        "TEMPORAL_TASK_QUEUE": task_queue,
        # Workers run side by side: none takes the default metrics port (test_observability).
        "WORKER_METRICS_ADDRESS": "",
    }


def spawn_worker(
    client: Client,
    settings: Settings,
    task_queue: str,
    log: Path,
    *,
    module: str | None = None,
    **env_overrides: str,
) -> subprocess.Popen[bytes]:
    """Start ``python worker.py`` (or ``python -m module``) as a process logging to ``log``."""
    env = {**settings_env(client, settings, task_queue), **env_overrides}
    argv = [sys.executable, "-m", module] if module else [sys.executable, str(ROOT / "worker.py")]
    with log.open("ab") as sink:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)


async def scheduled_activities(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """The activity types the workflow scheduled, in order (local activities excluded)."""
    history = await handle.fetch_history()
    return [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
    ]


async def local_activity_attempts(handle: WorkflowHandle[Any, Any]) -> list[tuple[str, int]]:
    """(activity type, attempt that completed) of each local activity, in history order."""
    history = await handle.fetch_history()
    attempts = []
    for event in history.events:
        if not event.HasField("marker_recorded_event_attributes"):
            continue
        marker = event.marker_recorded_event_attributes
        if marker.marker_name != "core_local_activity":
            continue
        data = json.loads(marker.details["data"].payloads[0].data)
        attempts.append((data["activity_type"], int(data["attempt"])))
    return attempts


async def crash_loop_signs(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """What in the history shows a retry: failed workflow tasks, activity attempts > 1.

    For bad input, both mean the error was not final: Temporal would keep trying
    something that cannot succeed. An empty list is what a typed, non-retryable
    error leaves behind.
    """
    history = await handle.fetch_history()
    names = {
        event.event_id: event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
    }
    signs = []
    for event in history.events:
        if event.HasField("workflow_task_failed_event_attributes"):
            failed = event.workflow_task_failed_event_attributes
            if failed.cause == UNHANDLED_COMMAND:
                continue  # a signal or result arrived as the workflow completed: redone once
            signs.append(f"workflow task failed: {failed.failure.message[:200]}")
        if event.HasField("activity_task_started_event_attributes"):
            started = event.activity_task_started_event_attributes
            if started.attempt > 1:
                name = names.get(started.scheduled_event_id, "?")
                signs.append(f"{name} attempt {started.attempt}")
    signs += [f"{name} attempt {n}" for name, n in await local_activity_attempts(handle) if n > 1]
    return signs


@contextlib.asynccontextmanager
async def worker_on_queue(
    client: Client, settings: Settings, task_queue: str, **options: Any
) -> AsyncIterator[str]:
    """One more worker (with its listener start and keeper) on an existing ``task_queue``:
    a second member of the fleet that ``running_worker`` started; yields the queue's name.

    It has a Temporal client of its own, as another host would: the SDK refuses a
    second worker for one task queue on the same client.
    """
    options.setdefault("tuning", FAST_LISTENER)
    own_client = await Client.connect(
        client.service_client.config.target_host,
        namespace=client.namespace,
        data_converter=client.data_converter,
        identity=f"second-worker-{uuid.uuid4()}",
    )
    async with (
        build_worker(
            own_client,
            settings,
            AuditLog(settings.audit_log_path),
            task_queue=task_queue,
            **options,
        ) as worker,
        worker,
    ):
        yield task_queue
