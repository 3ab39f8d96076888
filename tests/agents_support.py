"""Shared pieces of the agent adapters' tests (tests/test_agents_*.py): a worker and
the settings that reach it, deciding the one pending approval through the public
``durable_approvals.client.decide``, and an example process killed and started again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from temporalio.client import Client

from durable_approvals.action_hash import action_hash
from durable_approvals.client import approval_status, decide
from durable_approvals.edits import approved_args
from durable_approvals.models import DecisionVerdict
from durable_approvals.settings import Settings
from tests.helpers import (
    eventually,
    platform_client,
    record_task_queue,
    running_worker,
    settings_env,
)

ROOT = Path(__file__).resolve().parent.parent
BOUND = 60.0  # seconds for any one step of a process: starting, asking, answering


@dataclass
class Deployment:
    """A worker on its own task queue, and the settings and client that reach it."""

    client: Client
    settings: Settings

    async def pending(self) -> list[dict[str, Any]]:
        async with platform_client(self.settings) as api:
            return [i for i in await api.list_approvals() if i["status"] == "pending"]

    async def approvals(self) -> list[dict[str, Any]]:
        async with platform_client(self.settings) as api:
            items: list[dict[str, Any]] = await api.list_approvals()
        return items

    async def next_pending(self, count: int = 1, *, besides: tuple[str, ...] = ()) -> list[str]:
        """The ids of ``count`` pending approvals (not ``besides``) once the platform has them."""

        async def found() -> list[str] | None:
            ids = [item["id"] for item in await self.pending() if item["id"] not in besides]
            return ids if len(ids) >= count else None

        ids: list[str] = await eventually(found, timeout=BOUND)
        return ids

    async def decide(
        self,
        approval_id: str,
        *,
        approved: bool = True,
        edit: dict[str, Any] | None = None,
        bind_to: dict[str, Any] | None = None,
        comment: str | None = None,
    ) -> DecisionVerdict:
        """Decide ``approval_id`` through the public client: approve as asked, approve
        with ``edit`` (a merge patch of the request's args), deny, or approve args
        ``bind_to`` that are not the request's (refused as ``hash-mismatch``)."""
        edited: dict[str, Any] | None = None
        bound: str | None = None
        if edit is not None or bind_to is not None:
            workflow_id = await _workflow_of(self, approval_id)
            view = await approval_status(self.client, workflow_id)
            if edit is not None:
                edited = approved_args(view.args, edit)
            bound = action_hash(self.settings.workspace_id, view.action or "", edited or bind_to)
        return await decide(
            self.client,
            self.settings,
            approval_id,
            approved=approved,
            decided_by="alice",
            comment=comment,
            action_hash=bound,
            edited_args=edited,
            bind_to_request=approved and bound is None,
        )


async def _workflow_of(deployment: Deployment, approval_id: str) -> str:
    from durable_approvals.client import waiting_workflow

    async def found() -> str | None:
        return await waiting_workflow(deployment.client, deployment.settings, approval_id)

    workflow_id: str = await eventually(found, timeout=BOUND)
    return workflow_id


@contextlib.asynccontextmanager
async def deployment(client: Client, settings: Settings) -> AsyncIterator[Deployment]:
    """With ``RECORD_HISTORIES`` set, the runs it served are saved for replay when it ends,
    named after the test (``tests/history_sets.py``, set ``agents``)."""
    name = _test_name()
    async with running_worker(client, settings) as task_queue:
        yield Deployment(client, settings.model_copy(update={"temporal_task_queue": task_queue}))
        await record_task_queue(client, task_queue, name)


def _test_name() -> str:
    """``agents_guarded_denied_call_does_not_run`` for the test running now."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "unknown::unknown").split(" ")[0]
    module, _, test = current.partition("::")
    module = Path(module).stem.removeprefix("test_")
    test = test.split("[")[0].removeprefix("test_")
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{module}_{test}")


def process_env(deployed: Deployment, **extra: str) -> dict[str, str]:
    """The environment of an agent process that asks this deployment."""
    env = settings_env(deployed.client, deployed.settings, deployed.settings.temporal_task_queue)
    return {**env, "APPROVAL_POLL_INTERVAL": "0.2", **extra}


async def start_process(argv: list[str], env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, *argv, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE
    )


async def next_event(process: asyncio.subprocess.Process, event: str) -> dict[str, Any]:
    """Read the process's JSON lines until ``event``; fail if it ends or takes too long."""
    assert process.stdout is not None
    while True:
        line = await asyncio.wait_for(process.stdout.readline(), BOUND)
        assert line, f"process exited (rc {await process.wait()}) before {event!r}"
        data: dict[str, Any] = json.loads(line)
        if data["event"] == event:
            return data


async def killed_and_resumed(
    deployed: Deployment, argv: list[str], env: dict[str, str], **decision: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Start the agent process ``argv``, SIGKILL it while it waits for its approval, start
    it again, decide, and return its ``result`` event and the platform's approvals."""
    processes: list[asyncio.subprocess.Process] = []
    try:
        processes.append(first := await start_process(argv, env))
        [approval_id] = await deployed.next_pending()
        await kill_tree(first)  # no cleanup: the call still waiting
        processes.append(second := await start_process(argv, env))
        await next_event(second, "waiting")
        verdict = await deployed.decide(approval_id, **decision)
        assert verdict.accepted, verdict
        result = await next_event(second, "result")
        assert await asyncio.wait_for(second.wait(), BOUND) == 0
    finally:
        for process in processes:
            await kill_tree(process)
    return result, await deployed.approvals()


async def kill_tree(process: asyncio.subprocess.Process) -> None:
    """SIGKILL ``process`` and the processes it started (an MCP server on its stdio)."""
    if process.returncode is not None:
        return
    children = psutil.Process(process.pid).children(recursive=True)
    process.kill()
    await asyncio.wait_for(process.wait(), BOUND)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
