"""Every way a decision reaches an approval, each tried through faults: the platform's
decide, the ``decide`` signal, the ``decide_update`` through the client's ``decide``, the
CLI's ``approvals decide`` in a subprocess, and cancellation. Each returns what it was
told (the proof of what was made is read from the platform and the history at the end)."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from durable_approvals import client as approvals
from durable_approvals.action_hash import action_hash
from durable_approvals.models import DECIDE_SIGNAL, ApprovalRequest, Decision
from tests.fault_kit import decide_on_platform
from tests.helpers import ROOT, settings_env
from tests.soak.stack import Side

TRIES = 20
PAUSE = 0.5
CLI_BOUND = 60.0


@dataclass
class Attempt:
    """One decision (or cancellation) sent: who, what, how, when, and the answer."""

    way: str
    decided_by: str
    approved: bool
    sent_at: datetime
    answer: str = ""


def _hash_and_edit(
    request: ApprovalRequest, edit: dict[str, Any] | None
) -> tuple[str | None, dict[str, Any] | None]:
    if request.args is None:
        return None, None
    args = edit if edit is not None else request.args
    return action_hash(request.workspace_id, request.action, args), edit


async def send(
    way: str,
    *,
    side: Side,
    client: Client,
    handle: WorkflowHandle[Any, Any],
    request: ApprovalRequest,
    approval_id: str,
    decided_by: str,
    approved: bool,
    edit: dict[str, Any] | None = None,
) -> Attempt:
    """Send one decision (or the cancellation) the ``way`` named, retrying through faults."""
    attempt = Attempt(way, decided_by, approved, datetime.now(UTC))
    hash_, edit = _hash_and_edit(request, edit if approved else None)
    if way == "platform":
        answered = await decide_on_platform(
            side.api, approval_id, approved=approved, decided_by=decided_by, action_hash=hash_
        )
        attempt.answer = "answered" if answered else "platform unreachable"
    elif way == "signal":
        decision = Decision(
            approval_id=approval_id,
            approved=approved,
            decided_by=decided_by,
            action_hash=hash_,
            edited_args=edit,
        )
        attempt.answer = await _rpc(lambda: handle.signal(DECIDE_SIGNAL, decision))
    elif way == "update":
        attempt.answer = await _update(side, client, approval_id, decided_by, approved, hash_, edit)
    elif way == "cli":
        attempt.answer = await _cli(side, client, approval_id, decided_by, approved)
    elif way == "cancel":
        attempt.answer = await _rpc(handle.cancel)
    else:
        raise ValueError(f"unknown way {way!r}")
    return attempt


async def _rpc(call: Any) -> str:
    for _ in range(TRIES):
        try:
            await call()
        except RPCError as error:
            if "completed" in str(error) or "not found" in str(error).lower():
                return f"closed: {error}"
            await asyncio.sleep(PAUSE)
            continue
        return "sent"
    return "unreachable"


async def _update(
    side: Side,
    client: Client,
    approval_id: str,
    decided_by: str,
    approved: bool,
    hash_: str | None,
    edit: dict[str, Any] | None,
) -> str:
    error: Exception | None = None
    for _ in range(4):
        try:
            verdict = await approvals.decide(
                client,
                side.settings,
                approval_id,
                approved=approved,
                decided_by=decided_by,
                action_hash=hash_,
                edited_args=edit,
                timeout=10.0,
            )
        except Exception as failed:  # Temporal down, no worker in time: try again
            error = failed
            await asyncio.sleep(1.0)
            continue
        return f"{verdict.outcome.value}{': ' + verdict.reason if verdict.reason else ''}"
    return f"gave up: {type(error).__name__}: {error}"[:300]


async def _cli(
    side: Side, client: Client, approval_id: str, decided_by: str, approved: bool
) -> str:
    env = settings_env(client, side.settings, side.task_queue)
    argv = [
        sys.executable,
        "-m",
        "durable_approvals.cli",
        "decide",
        approval_id,
        "--approve" if approved else "--deny",
        "--by",
        decided_by,
    ]
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), CLI_BOUND)
    except TimeoutError:
        process.kill()
        await process.wait()
        return "cli hung"
    lines = out.decode(errors="replace").strip().splitlines()
    return f"exit {process.returncode}: {lines[-1] if lines else ''}"[:300]
