"""The upgrade promise end to end (docs/upgrading.md): approvals started by the previous
release's worker complete on this tree's worker.

The previous release is the committed wheel (``tests/upgrade/previous/``, checked against
its manifest), unpacked into a directory of its own; its worker runs from a cwd outside
the repository with that directory first on ``sys.path`` and says where it imported
``durable_approvals`` from. On a real dev server and the real platform (both modes) it
leaves five approvals in the states a deploy finds: waiting, escalated (reminded too),
one of two votes counted, with args, and one decided on the platform while no worker
runs. It is stopped (SIGTERM drains it; SIGKILL does not), this tree's worker starts and
the remaining decisions are made. Each approval ends with its decision, one request each
on the platform, one outcome record each, the audit chain verifies, and no workflow task
failed: every final history replays on today's workflow.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
import zipfile
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.worker import Replayer

from durable_approvals.audit_log.verify import verify_audit
from durable_approvals.client import decide
from durable_approvals.converter import data_converter
from durable_approvals.models import ApprovalRequest, ApprovalResult, ApprovalStatus
from durable_approvals.settings import Settings
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import (
    ROOT,
    UNHANDLED_COMMAND,
    approval_request,
    audit_records,
    eventually,
    platform_client,
    settings_env,
    wait_pending,
)
from tests.test_n_of_m import cast
from tests.upgrade.release import previous_release

pytestmark = pytest.mark.platform_modes("reference", "strict")

LEADS = "oncall-leads"
REQUESTER = "agent-7"
RESULT_BOUND = 60.0
LAUNCHER = (
    "import runpy, durable_approvals\n"
    "print(f'durable_approvals from {durable_approvals.__file__}', flush=True)\n"
    "runpy.run_module('durable_approvals.worker', run_name='__main__', alter_sys=True)\n"
)
"""``python -m durable_approvals.worker`` that first says which copy it imported."""

Handle = WorkflowHandle[Any, ApprovalResult]


def unpack_previous(into: Path) -> Path:
    """The committed wheel, checked against its manifest, unpacked as ``pip --target`` would."""
    release = previous_release()
    with zipfile.ZipFile(release.path) as archive:
        archive.extractall(into)
    return into


def launch(
    client: Client,
    settings: Settings,
    task_queue: str,
    log: Path,
    *,
    cwd: Path,
    python_path: Path | None,
) -> subprocess.Popen[bytes]:
    """A worker process: ``python_path`` first on ``sys.path`` (the old release), or this
    tree's editable install when None."""
    env = settings_env(client, settings, task_queue)
    env.pop("PYTHONPATH", None)
    if python_path is not None:
        env["PYTHONPATH"] = str(python_path)
    env["APPROVAL_HEARTBEAT_TIMEOUT"] = str(settings.approval_heartbeat_timeout)
    env["APPROVAL_POLL_INTERVAL"] = str(settings.approval_poll_interval)
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-c", LAUNCHER],
            cwd=cwd,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


async def worker_up(process: subprocess.Popen[bytes], log: Path) -> Path:
    """Wait for the worker's ``worker up`` line; returns the ``durable_approvals`` it runs."""

    async def up() -> str | None:
        assert process.poll() is None, log.read_text(errors="replace")
        text = log.read_text(errors="replace")
        return text if "worker up" in text else None

    text: str = await eventually(up, timeout=60, interval=0.2)
    (line,) = [x for x in text.splitlines() if x.startswith("durable_approvals from ")]
    return Path(line.removeprefix("durable_approvals from ")).resolve()


async def stop(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    if process.poll() is None:
        process.send_signal(signum)
        await asyncio.to_thread(process.wait, 30)


async def start(client: Client, task_queue: str, name: str, request: ApprovalRequest) -> Handle:
    handle: Handle = await client.start_workflow(
        ApprovalWorkflow.run,
        request,
        id=f"upgrade-{name}-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    return handle


def records_of(settings: Settings, handle: Handle) -> list[dict[str, Any]]:
    return [r for r in audit_records(settings) if r["event_id"].startswith(f"{handle.id}/")]


async def reminded_after_escalation(settings: Settings, handle: Handle) -> bool:
    """A reminder came after the escalation: the escalation's workflow task is in history
    (its timer fired), not only its audit record written by a worker about to be killed."""
    steps = [r["outcome"] for r in records_of(settings, handle)]
    return "escalated" in steps and "reminded" in steps[steps.index("escalated") :]


async def failed_tasks(handle: Handle) -> list[str]:
    history = await handle.fetch_history()
    return [
        event.workflow_task_failed_event_attributes.failure.message[:300]
        for event in history.events
        if event.HasField("workflow_task_failed_event_attributes")
        and event.workflow_task_failed_event_attributes.cause != UNHANDLED_COMMAND
    ]


async def replay_failures(handles: list[Handle]) -> dict[str, str]:
    async def histories() -> AsyncIterator[WorkflowHistory]:
        for handle in handles:
            yield await handle.fetch_history()

    replayer = Replayer(workflows=[ApprovalWorkflow], data_converter=data_converter)
    results = await replayer.replay_workflows(histories(), raise_on_replay_failure=False)
    return {run: str(error) for run, error in results.replay_failures.items() if error}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])
async def test_approvals_of_the_previous_release_complete_on_this_worker(
    dev_env, settings, platform, tmp_path, stop_signal
):
    client = dev_env.client
    task_queue = f"tq-upgrade-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    settings = settings.model_copy(update={"temporal_task_queue": task_queue})
    previous = unpack_previous(tmp_path / "previous")
    outside = tmp_path / "cwd"
    outside.mkdir()
    old_log, new_log = tmp_path / "old-worker.log", tmp_path / "new-worker.log"
    requests = {
        "waiting": approval_request(timeout_seconds=600),
        "escalated": approval_request(
            timeout_seconds=600, remind_every=2, escalate_after=3, escalate_to=LEADS
        ),
        "one-vote": approval_request(
            timeout_seconds=600, requester=REQUESTER, approvals_required=2
        ),
        "args": approval_request(
            timeout_seconds=600,
            args={"database": "staging", "snapshot": "nightly"},
            args_schema={"type": "object", "required": ["database"]},
        ),
        "offline": approval_request(timeout_seconds=600),
    }
    old = launch(client, settings, task_queue, old_log, cwd=outside, python_path=previous)
    new = None
    try:
        old_copy = await worker_up(old, old_log)
        assert old_copy.is_relative_to(previous.resolve()), old_copy
        handles = {name: await start(client, task_queue, name, r) for name, r in requests.items()}
        ids = {name: await wait_pending(handle, timeout=30) for name, handle in handles.items()}
        await cast(platform, settings, client, ids["one-vote"], "alice", counted=1)
        await eventually(lambda: reminded_after_escalation(settings, handles["escalated"]))

        await stop(old, stop_signal)
        async with platform_client(settings) as api:
            await api.decide(ids["offline"], approved=False, decided_by="night-shift")

        new = launch(client, settings, task_queue, new_log, cwd=ROOT, python_path=None)
        new_copy = await worker_up(new, new_log)
        assert new_copy.is_relative_to(ROOT) and not new_copy.is_relative_to(previous), new_copy
        async with platform_client(settings) as api:
            await api.decide(ids["waiting"], approved=True, decided_by="alice")
            await api.decide(ids["escalated"], approved=True, decided_by="lead-1")
        await cast(platform, settings, client, ids["one-vote"], "bob")
        verdict = await decide(
            client, settings, ids["args"], approved=True, decided_by="carol", bind_to_request=True
        )
        assert verdict.accepted, verdict

        results = dict(
            zip(
                handles,
                await asyncio.gather(
                    *(asyncio.wait_for(h.result(), RESULT_BOUND) for h in handles.values())
                ),
                strict=True,
            )
        )
    finally:
        for process in (old, new):
            if process is not None:
                await stop(process, signal.SIGTERM)
    new_text = new_log.read_text(errors="replace")
    logs = f"old worker:\n{old_log.read_text(errors='replace')}\nnew worker:\n{new_text}"

    expected = {
        "waiting": (ApprovalStatus.GRANTED, "alice"),
        "escalated": (ApprovalStatus.GRANTED, "lead-1"),
        "one-vote": (ApprovalStatus.GRANTED, "bob"),
        "args": (ApprovalStatus.GRANTED, "carol"),
        "offline": (ApprovalStatus.DENIED, "night-shift"),
    }
    ended = {name: (r.status, r.decided_by) for name, r in results.items()}
    assert ended == expected, logs
    assert results["escalated"].escalated_to == LEADS
    assert sorted(results["one-vote"].approvers or []) == ["alice", "bob"]
    assert results["args"].action_hash == requests["args"].action_hash()
    assert results["args"].args == requests["args"].args
    assert {name: r.approval_id for name, r in results.items()} == ids

    async with platform_client(settings) as api:
        on_platform = Counter(item["id"] for item in await api.list_approvals())
    assert on_platform == Counter(ids.values())  # one request each
    written = Counter(r["event_id"] for r in audit_records(settings))
    assert [e for e, n in written.items() if n > 1] == []
    for name, handle in handles.items():
        steps = [r["outcome"] for r in records_of(settings, handle)]
        finals = [r for r in records_of(settings, handle) if r["event_id"].endswith("/outcome")]
        assert steps.count("requested") == 1 and len(finals) == 1, (name, steps)
        assert finals[0]["outcome"] == expected[name][0].value, (name, steps)
    report = verify_audit(settings.audit_log_path)
    assert report.ok, report.summary()

    assert "nondetermin" not in new_text.lower(), logs
    assert "Failed activation" not in new_text, logs
    for handle in handles.values():
        assert await failed_tasks(handle) == [], handle.id
    assert await replay_failures(list(handles.values())) == {}
