"""Approvals decided through a real worker while the platform's WebSocket misbehaves.

One job: run N approvals on a real Temporal server, a real in-process worker
(whose workspace listener holds the one socket) and the real reference platform
with one WebSocket fault on, decide each on the platform once the listener has
caught up (every approval waits and is findable, each read its state once, the
socket is open and the listener's catch-up passes are over: only the socket,
a catch-up after a reconnect or the reconciliation of a silent socket can bring
the decision), and report per approval what the workflow returned and what the
audit trail holds. ``tests/test_websocket_faults.py`` asserts on it;
``python -m tests.faults`` counts it into its table.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from temporalio.client import Client, WorkflowHandle

from durable_approvals.activities.approval_index import ApprovalIndex
from durable_approvals.activities.listener import ListenerTuning
from durable_approvals.models import ApprovalResult, ApprovalStatus
from durable_approvals.settings import Settings
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import (
    approval_request,
    audit_records,
    eventually,
    platform_client,
    running_worker,
    start,
    wait_pending,
)
from tests.platform_faults import Faults, FaultyPlatform

DROP_AFTER_SECONDS = 0.5
# Short versions of the production intervals, so a run takes seconds: a
# reconciliation after half a second of silence instead of a minute.
LISTENER_TUNING = ListenerTuning(
    backoff=(0.05, 0.1, 0.2), socket_retry=2.0, settle=0.2, reconcile_interval=0.5
)
CATCH_UP_MARGIN = 0.5
"""Waited beyond the listener's ``settle`` before deciding: its catch-up passes are over."""
# Far beyond what a decision needs on loopback, and far below the approval's
# own timeout: a decision still missing then is "hung", not found by the timer.
RESULT_BOUND_SECONDS = 20.0
APPROVAL_TIMEOUT_SECONDS = 120


def _drop(faults: Faults) -> None:
    faults.websocket_drop_after_seconds = DROP_AFTER_SECONDS


def _garbage(faults: Faults) -> None:
    faults.websocket_garbage = True


def _silent(faults: Faults) -> None:
    faults.websocket_silent = True


WS_FAULTS: dict[str, Callable[[Faults], None]] = {
    f"socket dropped every {DROP_AFTER_SECONDS} s": _drop,
    "garbage frames on the socket": _garbage,
    "silent socket (pings answered)": _silent,
}


@dataclass(frozen=True)
class ApprovalRun:
    """One approval under a fault: the decision made, what came back, what was audited."""

    approval_id: str
    approved: bool
    decided_by: str
    result: ApprovalResult | None  # None: no result within RESULT_BOUND_SECONDS
    audited: tuple[str, ...]  # outcomes of this approval's audit records, in order
    via: tuple[str, ...]  # the decision's path, per outcome record (``DecisionSource``)

    @property
    def hung(self) -> bool:
        return self.result is None

    @property
    def lost(self) -> bool:
        """Finished, but not with the decision the human made."""
        expected = ApprovalStatus.GRANTED if self.approved else ApprovalStatus.DENIED
        return self.result is not None and (
            self.result.status is not expected or self.result.decided_by != self.decided_by
        )

    @property
    def duplicated(self) -> bool:
        """More than one request or more than one outcome in the audit trail."""
        return self.audited.count("requested") > 1 or len(self.audited) > 2


async def run_under_fault(
    client: Client,
    settings: Settings,
    platform: FaultyPlatform,
    inject: Callable[[Faults], None],
    count: int,
) -> list[ApprovalRun]:
    """Start ``count`` approvals with the fault on, decide each once the listener has
    caught up, collect.

    A fresh worker (and so a fresh listener and socket, opened under the fault)
    per call; the fault is reset on the way out.
    """
    inject(platform.faults)
    try:
        async with running_worker(client, settings, tuning=LISTENER_TUNING) as task_queue:
            request = approval_request(timeout_seconds=APPROVAL_TIMEOUT_SECONDS)
            handles = [await start(client, task_queue, request) for _ in range(count)]
            approval_ids = [await wait_pending(handle) for handle in handles]
            index = ApprovalIndex(client, task_queue, settings.workspace_id)

            async def caught_up() -> bool:
                # Findable: the workflow task that upserted the search attributes also
                # ran the workflow's read once.
                owners = [await index.owner(approval_id) for approval_id in approval_ids]
                return all(owners) and platform.hub.connection_count(settings.workspace_id) > 0

            await eventually(caught_up)
            await asyncio.sleep(LISTENER_TUNING.settle + CATCH_UP_MARGIN)
            # From here on a decision can only come from the socket or a later read pass.
            decisions = [(n % 2 == 0, f"reviewer-{n}-{uuid.uuid4().hex[:6]}") for n in range(count)]
            async with platform_client(settings) as api:
                for approval_id, (approved, decided_by) in zip(
                    approval_ids, decisions, strict=True
                ):
                    await asyncio.sleep(
                        random.random() * DROP_AFTER_SECONDS
                    )  # spread over several drop windows
                    await api.decide(approval_id, approved=approved, decided_by=decided_by)
            results = await asyncio.gather(*(_bounded_result(handle) for handle in handles))
    finally:
        platform.faults.reset()
    records = audit_records(settings)
    runs = []
    for approval_id, (approved, decided_by), result in zip(
        approval_ids, decisions, results, strict=True
    ):
        mine = [r for r in records if r.get("approval_id") == approval_id]
        runs.append(
            ApprovalRun(
                approval_id=approval_id,
                approved=approved,
                decided_by=decided_by,
                result=result,
                audited=tuple(r["outcome"] for r in mine),
                via=tuple(r["via"] for r in mine if "via" in r),
            )
        )
    return runs


async def _bounded_result(
    handle: WorkflowHandle[ApprovalWorkflow, ApprovalResult],
) -> ApprovalResult | None:
    try:
        return await asyncio.wait_for(handle.result(), RESULT_BOUND_SECONDS)
    except TimeoutError:
        await handle.terminate("hung under a WebSocket fault")
        return None
