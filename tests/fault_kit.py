"""Pieces shared by the seeded fault schedule (tests/test_fault_schedule.py) and the chaos
soak (tests/soak/): a worker process killed, paused and restarted on purpose, a platform
decision tried while the platform is down, and the replay of every history written
under faults."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from durable_approvals.converter import data_converter
from durable_approvals.platform_client import PlatformClient, PlatformError
from durable_approvals.settings import Settings
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import spawn_worker


class Fleet:
    """One worker process (``spawn_worker``), killed, paused and restarted on purpose."""

    def __init__(
        self, client: Client, settings: Settings, task_queue: str, log: Path, **env: str
    ) -> None:
        self._client, self._settings, self._task_queue, self._log = (
            client,
            settings,
            task_queue,
            log,
        )
        self._env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False
        self.exits = 0
        """How often ``start`` found the worker gone by itself (it started it again)."""

    def start(self) -> None:
        """Start the worker unless it runs (again, if it exited by itself)."""
        if self.process is not None and self.process.poll() is not None:
            self.exits += 1
            self.process = None
        if self.process is None:
            self.process = spawn_worker(
                self._client, self._settings, self._task_queue, self._log, **self._env
            )

    def kill(self) -> None:
        """SIGKILL the worker (and reap it); nothing when it is not running."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
            self.paused = False

    async def pause(self, seconds: float) -> None:
        """SIGSTOP the worker for ``seconds``, then SIGCONT it (also when cancelled)."""
        process = self.process
        if process is None:
            return
        process.send_signal(signal.SIGSTOP)
        self.paused = True
        try:
            await asyncio.sleep(seconds)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
            self.paused = False


async def decide_on_platform(
    api: PlatformClient,
    approval_id: str,
    *,
    approved: bool,
    decided_by: str,
    action_hash: str | None = None,
    tries: int = 20,
) -> bool:
    """Decide on the platform, trying while it is down (0.5 s apart, ``tries`` times).
    Returns whether the platform answered; refused (404, 409, 403) is an answer that made
    nothing. Whether the decision was made, and when, is read from the platform at the end."""
    for _ in range(tries):
        try:
            await api.decide(
                approval_id, approved=approved, decided_by=decided_by, action_hash=action_hash
            )
        except PlatformError as error:
            if error.status_code in (403, 404, 409):
                return True
            await asyncio.sleep(0.5)
            continue
        return True
    return False


async def replay_failures(
    histories: Iterable[WorkflowHistory], keep_in: Path, prefix: str
) -> list[str]:
    """Replay each history against today's ``ApprovalWorkflow``; a failing one is written
    to ``keep_in/<prefix>-<workflow id>.json`` and named in the returned lines."""
    replayer = Replayer(workflows=[ApprovalWorkflow], data_converter=data_converter)
    failures = []
    for history in histories:
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        if result.replay_failure is not None:
            keep_in.mkdir(parents=True, exist_ok=True)
            path = keep_in / f"{prefix}-{history.workflow_id}.json"
            path.write_text(history.to_json(), encoding="utf-8")
            failures.append(f"{history.workflow_id}: {result.replay_failure} (kept in {path})")
    return failures
