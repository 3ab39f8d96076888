"""A stale workflow task cannot give an approval a second outcome record.

A worker paused inside the timer's task (at the outcome's audit write) past the
workflow task timeout loses the task; another worker runs it again, with a decision
signalled meanwhile, and ends the workflow. The paused worker then resumes and runs
the rest of its stale task, its outcome write included. Whatever the stale task
concluded, the approval has one outcome record: every outcome of a run has one
event id (docs/internals.md, "One outcome record").
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from durable_approvals.models import DECIDE_SIGNAL, ApprovalStatus, Decision
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import (
    approval_request,
    audit_records,
    eventually,
    spawn_worker,
    wait_pending,
    worker_on_queue,
)

pytestmark = pytest.mark.platform_modes("reference", "strict")

OUTCOMES = {"granted", "denied", "timeout", "cancelled"}
TASK_TIMEOUT = timedelta(seconds=5)


async def _stopped(process: subprocess.Popen[bytes]) -> bool:
    """Whether ``process`` is stopped (SIGSTOP), from /proc."""
    stat = Path(f"/proc/{process.pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "T"


async def _says(log: Path, text: str) -> bool:
    return text in log.read_text(errors="replace").lower()


async def test_a_paused_worker_s_stale_timeout_is_not_a_second_outcome(
    dev_env, settings, platform, tmp_path
):
    client = dev_env.client
    task_queue = f"tq-{uuid.uuid4()}"
    log = tmp_path / "paused-worker.log"
    paused = spawn_worker(
        client,
        settings,
        task_queue,
        log,
        module="tests.crashing_worker",
        CRASH_AT="write_audit:before:timeout",
        CRASH_SIGNAL="STOP",
    )
    try:
        handle = await client.start_workflow(
            ApprovalWorkflow.run,
            approval_request(timeout_seconds=2),
            id=f"approval-test-{uuid.uuid4()}",
            task_queue=task_queue,
            task_timeout=TASK_TIMEOUT,
        )
        approval_id = await wait_pending(handle)
        await eventually(lambda: _stopped(paused), timeout=30)
        decision = Decision(approval_id=approval_id, approved=False, decided_by="alice")
        await handle.signal(DECIDE_SIGNAL, decision)
        async with worker_on_queue(client, settings, task_queue):
            result = await asyncio.wait_for(handle.result(), 60)
        paused.send_signal(signal.SIGCONT)  # its stale task goes on: the timeout write
        # the stale task's end: its completion is refused (the task is gone)
        await eventually(lambda: _says(log, "not found"), timeout=30)
    finally:
        paused.kill()
        paused.wait()

    records = [r for r in audit_records(settings) if r.get("approval_id") == approval_id]
    outcomes = [r["outcome"] for r in records if r["outcome"] in OUTCOMES]
    assert outcomes == ["timeout"], records
    assert result.status is ApprovalStatus.TIMEOUT
    late = [r for r in records if r.get("rejected_because") == "late"]
    assert [r["decided_by"] for r in late] == ["alice"]
