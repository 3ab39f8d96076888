"""Promise 1: SIGKILL the worker process mid-wait (it runs the workspace listener too),
decide while it is down, start a new one: the new worker's listener takes over after
the heartbeat timeout, its catch-up finds the decision, and the workflow completes with
it, audited once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from durable_approvals.activities.approval_index import ApprovalIndex
from durable_approvals.models import ApprovalStatus, DecisionSource
from tests.helpers import (
    WORKSPACE,
    audit_records,
    eventually,
    finish,
    platform_client,
    spawn_worker,
    start,
    wait_pending,
)

ROOT = Path(__file__).resolve().parent.parent


async def test_sigkilled_worker_loses_nothing(dev_env, settings, platform, tmp_path):
    task_queue = f"tq-crash-{os.getpid()}-{id(settings)}"
    log = tmp_path / "worker.log"
    # The listener's heartbeat timeout: how soon the new worker takes the listener over.
    env = {"APPROVAL_HEARTBEAT_TIMEOUT": str(settings.approval_heartbeat_timeout)}
    first = spawn_worker(dev_env.client, settings, task_queue, log, **env)
    second = None
    try:
        handle = await start(dev_env.client, task_queue)
        approval_id = await wait_pending(handle, timeout=30)
        index = ApprovalIndex(dev_env.client, task_queue, WORKSPACE)

        async def listening() -> bool:
            # The listener holds the socket and can find the waiting workflow.
            connected = platform.hub.connection_count(WORKSPACE) >= 1
            return connected and await index.owner(approval_id) is not None

        await eventually(listening, timeout=30)
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 10)

        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="night-shift")

        second = spawn_worker(dev_env.client, settings, task_queue, log, **env)
        result = await finish(handle, "decided_while_worker_down", timeout=60)
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                process.terminate()
                await asyncio.to_thread(process.wait, 10)

    assert result.status is ApprovalStatus.GRANTED, log.read_text(errors="replace")
    assert result.decided_by == "night-shift" and result.approval_id == approval_id
    records = audit_records(settings)
    assert [r["outcome"] for r in records] == ["requested", "granted"]
    assert records[1]["via"] == DecisionSource.CATCH_UP.value  # the new listener's catch-up
    async with platform_client(settings) as api:
        assert len(await api.list_approvals()) == 1


async def test_worker_refuses_to_start_without_a_valid_workspace_or_audit_path(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    cases = [
        ({"WORKSPACE_ID": ""}, "WORKSPACE_ID is empty"),
        ({"WORKSPACE_ID": "../ws"}, "invalid WORKSPACE_ID '../ws'"),
        ({"WORKSPACE_ID": "ws", "AUDIT_LOG_PATH": str(blocker / "audit.jsonl")}, "AUDIT_LOG_PATH"),
    ]
    for overrides, message in cases:
        env = {**os.environ, "AUDIT_LOG_PATH": str(tmp_path / "a.jsonl"), **overrides}
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, str(ROOT / "worker.py")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
