"""A short seeded fault schedule: approvals decided on the platform and by signal,
before and after their deadlines, while the worker is killed and paused and the
platform goes down. Then the four promises of issue 24 are checked for every approval:

1. it ended with a decision made before its deadline, or timed out (a platform
   decision made in time is never lost to the timeout, and nothing made late counts);
2. it has one outcome record;
3. the platform holds one request for it;
4. the audit chain verifies;
5. every workflow's history replays (no nondeterminism written under faults).

The first approval is scripted: its worker is dead across its deadline, and a
decision reaches it both ways after the deadline (what used to be taken). The rest
follow ``FAULT_SEED`` (default 24); the release soak runs the same checks longer.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.service import RPCError

from durable_approvals.audit_log import verify_chain
from durable_approvals.models import (
    DECIDE_SIGNAL,
    ApprovalResult,
    ApprovalStatus,
    Decision,
)
from durable_approvals.platform_client import PlatformClient
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.fault_kit import Fleet, decide_on_platform, replay_failures
from tests.helpers import (
    approval_request,
    audit_records,
    eventually,
    platform_client,
    start,
    wait_pending,
)
from tests.platform_faults import FaultyPlatform

pytestmark = pytest.mark.platform_modes("reference", "strict")

SEED = int(os.environ.get("FAULT_SEED", "24"))
RANDOM_APPROVALS = 6
OUTCOMES = {"granted", "denied", "timeout", "cancelled"}


@dataclass
class Sent:
    """One approval of the schedule and the decisions sent to it."""

    handle: WorkflowHandle[ApprovalWorkflow, ApprovalResult]
    approval_id: str
    action: str
    decided_by: str
    signal_sent_at: datetime | None = None


async def _decide_on_platform(api: PlatformClient, sent: Sent, approved: bool) -> None:
    await decide_on_platform(api, sent.approval_id, approved=approved, decided_by=sent.decided_by)


async def _signal(sent: Sent, approved: bool) -> None:
    sent.signal_sent_at = datetime.now(UTC)
    decision = Decision(approval_id=sent.approval_id, approved=approved, decided_by=sent.decided_by)
    try:
        await sent.handle.signal(DECIDE_SIGNAL, decision)
    except RPCError:
        sent.signal_sent_at = None  # the workflow had ended: nothing reached it


async def _faults(rng: random.Random, fleet: Fleet, platform: FaultyPlatform, until: float) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        await asyncio.sleep(rng.uniform(1.0, 3.0))
        fault = rng.choice(["kill", "pause", "platform"])
        down = rng.uniform(1.0, 4.0)
        if fault == "kill":
            fleet.kill()
            await asyncio.sleep(down)
            fleet.start()
        elif fault == "pause":
            await fleet.pause(down)
        else:
            await platform.stop()
            await asyncio.sleep(down)
            await platform.start()


async def _scripted(client: Client, task_queue: str, fleet: Fleet, api: PlatformClient) -> Sent:
    """Dead worker across the deadline; a platform decision and a signal after it."""
    request = approval_request(action=f"scripted {SEED}", timeout_seconds=2)
    handle = await start(client, task_queue, request)
    approval_id = await wait_pending(handle, timeout=40)
    fleet.kill()
    await asyncio.sleep(3)  # the deadline passes with no worker
    sent = Sent(handle, approval_id, request.action, "late-lou")
    await _decide_on_platform(api, sent, True)
    await _signal(sent, True)
    fleet.start()
    return sent


async def _random_one(
    rng: random.Random, number: int, client: Client, task_queue: str, api: PlatformClient
) -> Sent:
    await asyncio.sleep(rng.uniform(0, 6))
    timeout = rng.uniform(3, 6)
    request = approval_request(action=f"fault {SEED}-{number}", timeout_seconds=timeout)
    handle = await start(client, task_queue, request)
    approval_id = await _created(handle)
    sent = Sent(handle, approval_id, request.action, f"human-{number}")
    how = rng.choice(["platform", "signal", "none"])
    at, approved = rng.uniform(0.2, timeout + 2), rng.random() < 0.5
    await asyncio.sleep(at)
    if how == "platform":
        await _decide_on_platform(api, sent, approved)
    elif how == "signal":
        await _signal(sent, approved)
    return sent


async def _created(handle: WorkflowHandle[ApprovalWorkflow, ApprovalResult]) -> str:
    """The approval id once the request exists, whatever the state: with the worker down
    meanwhile, a short approval may have timed out before a query gets through."""

    async def created() -> str | None:
        return (await handle.query(ApprovalWorkflow.status)).approval_id

    approval_id: str = await eventually(created, timeout=40)
    return approval_id


def _violations(sent: Sent, result: ApprovalResult, deadline: datetime, item: Any) -> list[str]:
    """Promise 1 for one approval: what its result says against when decisions were made."""
    made_on_platform = None  # also when the platform took it but its reply was lost
    if item is not None and item.get("decided_by") == sent.decided_by and item.get("decided_at"):
        made_on_platform = datetime.fromisoformat(item["decided_at"].replace("Z", "+00:00"))
    problems = []
    if result.status in (ApprovalStatus.GRANTED, ApprovalStatus.DENIED):
        made = [t for t in (made_on_platform, sent.signal_sent_at) if t is not None]
        if result.decided_by != sent.decided_by or not made or min(made) >= deadline:
            problems.append(f"took a decision made at {made} (deadline {deadline})")
    elif result.status is ApprovalStatus.TIMEOUT:
        if made_on_platform is not None and made_on_platform < deadline:
            problems.append(f"timed out over a platform decision made at {made_on_platform}")
    else:
        problems.append(f"ended {result.status.value}")
    return problems


async def _replay_failures(histories: list[WorkflowHistory], keep_in: Path) -> list[str]:
    """Replay each history; a failing one is kept under ``FAULT_HISTORY_DIR`` (or ``keep_in``)."""
    kept = Path(os.environ.get("FAULT_HISTORY_DIR") or keep_in)
    return await replay_failures(histories, kept, f"seed-{SEED}")


@pytest.mark.timeout(240)
async def test_a_seeded_fault_schedule_keeps_the_four_promises(
    dev_env, settings, platform, tmp_path
):
    rng = random.Random(SEED)
    client = dev_env.client
    task_queue = f"tq-{uuid.uuid4()}"
    fleet = Fleet(client, settings, task_queue, tmp_path / "worker.log")
    fleet.start()
    try:
        async with platform_client(settings) as api:
            scripted = await _scripted(client, task_queue, fleet, api)
            until = asyncio.get_running_loop().time() + 15
            randoms = asyncio.gather(
                *(_random_one(rng, n, client, task_queue, api) for n in range(RANDOM_APPROVALS))
            )
            await _faults(rng, fleet, platform, until)
            all_sent = [scripted, *await randoms]
            fleet.start()
            results = [await asyncio.wait_for(s.handle.result(), 90) for s in all_sent]
            views = [await s.handle.query(ApprovalWorkflow.status) for s in all_sent]
            items = [await api.get_approval(s.approval_id) for s in all_sent]
            listed = Counter(item["action"] for item in await api.list_approvals())
            histories = [await s.handle.fetch_history() for s in all_sent]
    finally:
        fleet.kill()

    # 5. every history written under faults replays: a worker that loses its cache
    # mid-wait must not fail the workflow's tasks forever.
    unreplayable = await _replay_failures(histories, tmp_path)
    assert not unreplayable, f"seed {SEED}: histories that do not replay:\n{unreplayable}"

    records = audit_records(settings)
    problems: list[str] = []
    for sent, result, view, item in zip(all_sent, results, views, items, strict=True):
        assert view.deadline is not None
        problems += [f"{sent.action}: {p}" for p in _violations(sent, result, view.deadline, item)]
        outcomes = [
            r["outcome"]
            for r in records
            if r.get("approval_id") == sent.approval_id and r["outcome"] in OUTCOMES
        ]
        if len(outcomes) != 1:
            problems.append(f"{sent.action}: outcome records {outcomes}")
        if listed[sent.action] != 1:
            problems.append(f"{sent.action}: {listed[sent.action]} requests on the platform")
    assert not problems, f"seed {SEED}:\n" + "\n".join(problems)
    assert results[0].status is ApprovalStatus.TIMEOUT, "the scripted approval took a late one"
    report = verify_chain(settings.audit_log_path)
    assert report.ok, report.summary()
