"""Promise 1 at every lifecycle stage: SIGKILL the worker there, restart, count the damage.

Each run starts a real worker process that kills itself at one stage
(:mod:`tests.crashing_worker`), then a plain ``python worker.py`` on the same
task queue. Both run the workspace listener too (with the stage's
``APPROVAL_USE_WEBSOCKET``), so every crash also kills the listener's session,
which the second worker takes over. The human decides (approve or deny, at
random) while no worker runs when the stage is before the decision, or before
the crash when the crash is what the decision leads to: once the request
exists, or once the workflow waits (the listener can find it) for the stages
of the listener's signal. Then, from the platform, the result and the audit
trail:

- lost: no request on the platform, a result that is not the human's decision,
  or a missing audit record;
- duplicated: more than one request for the run, or an audit event written twice;
- hung: no result within ``RESULT_BOUND`` seconds.

Recovery is as slow as production's timeouts make it (a workflow task killed
with its local activities is retried after the 10 s task timeout, a task left
on the dead worker's sticky queue after ``WORKER_STICKY_TIMEOUT``), but for the
listener's heartbeat timeout: ``APPROVAL_HEARTBEAT_TIMEOUT`` is a worker
setting, 30 s by default, and the runs set it to ``HEARTBEAT_TIMEOUT``. Used by
``tests/test_crash_stages.py`` and by the fault-suite command (``python -m tests.faults``).

The platform's mode is the caller's: the runs use ``settings.platform_url`` and,
against a strict platform (the upstream contract alone: no Idempotency-Key, no
single-item read, no expire route), ``settings.workspace_token``, which the worker
processes get as ``WORKSPACE_TOKEN``.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client

from durable_approvals.activities.approval_index import ApprovalIndex
from durable_approvals.audit_log import AuditLog
from durable_approvals.models import ApprovalResult, ApprovalStatus, WebSocketMode
from durable_approvals.settings import Settings
from tests.helpers import approval_request, eventually, platform_client, spawn_worker, start

RESULT_BOUND = 90.0
CRASH_BOUND = 60.0
HEARTBEAT_TIMEOUT = 5.0

# When the human decides.
WHILE_DOWN = "while no worker runs"
WHEN_REQUESTED = "once the request exists"
WHEN_WAITING = "once the workflow waits"


@dataclass(frozen=True)
class Stage:
    name: str
    crash_at: str
    """``CRASH_AT`` for :mod:`tests.crashing_worker`."""
    jitter: float = 0.0
    websocket: WebSocketMode = WebSocketMode.AUTO
    """``APPROVAL_USE_WEBSOCKET`` of both workers: the listener's transport."""
    decide: str = WHILE_DOWN
    """``WHILE_DOWN``, or before the crash when the decision is what leads to the stage."""


STAGES: tuple[Stage, ...] = (
    Stage("before RBAC", "check_permission:before", jitter=0.02),
    Stage("create sent, reply lost", "create_approval:after"),
    Stage("between create and audit", "write_audit:before:requested"),
    Stage("'requested' written, not recorded", "write_audit:after:requested"),
    Stage("while listening", "listener:waiting", jitter=0.3),
    Stage("while polling", "listener:waiting", jitter=0.3, websocket=WebSocketMode.FALSE),
    Stage("while the listener is signalling", "signal:before", decide=WHEN_WAITING),
    Stage("listener's signal sent, not remembered", "signal:after", decide=WHEN_WAITING),
    Stage(
        "between decision and final audit",
        "write_audit:before:granted|denied",
        decide=WHEN_REQUESTED,
    ),
    Stage(
        "final audit written, not recorded",
        "write_audit:after:granted|denied",
        decide=WHEN_REQUESTED,
    ),
)


@dataclass
class RunOutcome:
    lost: bool = False
    duplicated: bool = False
    hung: bool = False
    detail: str = ""


async def _items_for(settings: Settings, action: str) -> list[dict[str, Any]]:
    async with platform_client(settings) as api:
        return [item for item in await api.list_approvals() if item.get("action") == action]


async def _decide(
    client: Client, settings: Settings, task_queue: str, action: str, approved: bool, when: str
) -> None:
    """Decide once the request exists, and for ``WHEN_WAITING`` once the listener can find
    the workflow (its search attributes are upserted by the workflow task that also ran
    the read once: from then on only the listener can bring the decision)."""

    async def requested() -> str | None:
        items = await _items_for(settings, action)
        return items[0]["id"] if items else None

    approval_id: str = await eventually(requested, timeout=CRASH_BOUND)
    if when == WHEN_WAITING:
        index = ApprovalIndex(client, task_queue, settings.workspace_id)

        async def findable() -> bool:
            return await index.owner(approval_id) is not None

        await eventually(findable, timeout=CRASH_BOUND)
    async with platform_client(settings) as api:
        await api.decide(approval_id, approved=approved, decided_by="crash-reviewer")


async def _wait_exit(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    try:
        return await asyncio.to_thread(process.wait, timeout)
    except subprocess.TimeoutExpired:
        return None


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.kill()
        process.wait(10)


async def run_once(client: Client, settings: Settings, stage: Stage, log: Path) -> RunOutcome:
    """One crash at ``stage`` and one recovery; raises if the crash never happened."""
    run_id = uuid.uuid4().hex[:12]
    task_queue = f"crash-{run_id}"
    action = f"crash run {run_id}"
    # A workspace of its own (and so a listener of its own): the platform lists only a
    # workspace's newest 50.
    settings = settings.model_copy(update={"workspace_id": f"crash-{run_id}"})
    listener_env = {
        "APPROVAL_USE_WEBSOCKET": stage.websocket.value,
        "APPROVAL_POLL_INTERVAL": str(settings.approval_poll_interval),
        "APPROVAL_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
    }
    approved = random.choice([True, False])
    crashing = spawn_worker(
        client,
        settings,
        task_queue,
        log,
        module="tests.crashing_worker",
        CRASH_AT=stage.crash_at,
        CRASH_JITTER=str(stage.jitter),
        **listener_env,
    )
    recovering = None
    try:
        request = approval_request(
            workspace_id=settings.workspace_id, action=action, timeout_seconds=300
        )
        handle = await start(client, task_queue, request)
        if stage.decide != WHILE_DOWN:
            await _decide(client, settings, task_queue, action, approved, stage.decide)
        if await _wait_exit(crashing, CRASH_BOUND) != -signal.SIGKILL:
            raise RuntimeError(f"stage {stage.name!r} was never reached (see {log})")
        if stage.decide != WHILE_DOWN:
            recovering = spawn_worker(client, settings, task_queue, log, **listener_env)
        elif await _items_for(settings, action):  # decide while no worker runs
            await _decide(client, settings, task_queue, action, approved, WHEN_REQUESTED)
            recovering = spawn_worker(client, settings, task_queue, log, **listener_env)
        else:
            recovering = spawn_worker(client, settings, task_queue, log, **listener_env)
            await _decide(client, settings, task_queue, action, approved, WHEN_REQUESTED)
        result: ApprovalResult = await asyncio.wait_for(handle.result(), RESULT_BOUND)
    except TimeoutError:
        return RunOutcome(hung=True, detail="no result in time")
    finally:
        _stop(crashing)
        _stop(recovering)
    return _judge(settings, action, approved, result, await _items_for(settings, action))


def _judge(
    settings: Settings,
    action: str,
    approved: bool,
    result: ApprovalResult,
    items: list[dict[str, Any]],
) -> RunOutcome:
    outcome = RunOutcome()
    expected = ApprovalStatus.GRANTED if approved else ApprovalStatus.DENIED
    records = [r for r in AuditLog(settings.audit_log_path).records() if r["resource"] == action]
    written = Counter(record["event_id"] for record in records)
    outcomes = [record["outcome"] for record in records]
    wanted = ["requested", "granted" if approved else "denied"]
    problems = []
    if not items or result.status is not expected or result.approval_id != items[0]["id"]:
        outcome.lost = True
        problems.append(f"result {result.status.value}, {len(items)} request(s)")
    if len(items) > 1:
        outcome.duplicated = True
        problems.append(f"{len(items)} requests on the platform")
    if any(count > 1 for count in written.values()) or len(outcomes) > len(wanted):
        outcome.duplicated = True
        problems.append(f"audit {outcomes}")
    elif outcomes != wanted:
        outcome.lost = True
        problems.append(f"audit {outcomes}")
    outcome.detail = "; ".join(problems)
    return outcome


def stage_named(name: str) -> Stage:
    [stage] = [stage for stage in STAGES if stage.name == name]
    return stage


async def run_stages(
    client: Client,
    settings: Settings,
    log_dir: Path,
    runs: int,
    stages: tuple[Stage, ...] = STAGES,
) -> list[tuple[str, int, int, int, int, list[str]]]:
    """Every stage (of ``stages``) ``runs`` times (stages side by side, runs of a stage
    one after another).

    Returns rows ``(fault, runs, lost, duplicated, hung, details)``.
    """

    async def one_stage(stage: Stage) -> tuple[str, int, int, int, int, list[str]]:
        lost = duplicated = hung = 0
        details = []
        for run in range(runs):
            log = log_dir / f"crash-{STAGES.index(stage)}-{run}.log"
            outcome = await run_once(client, settings, stage, log)
            lost += outcome.lost
            duplicated += outcome.duplicated
            hung += outcome.hung
            if outcome.detail:
                details.append(f"{stage.name} run {run}: {outcome.detail} (log {log})")
        return f"worker SIGKILL {stage.name}", runs, lost, duplicated, hung, details

    return list(await asyncio.gather(*(one_stage(stage) for stage in stages)))
