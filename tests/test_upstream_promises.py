"""Issue 10's rows on the strict platform, which serves the upstream contract alone
(docs/platform-modes.md): no Idempotency-Key, no single-item read, no expire route,
a token required. Each is a promise that the reference platform's extensions used
to keep for us, and that the worker must now keep on the contract alone:

- a create whose reply died with the worker leaves one request (SIGKILL after the POST);
- a platform slower than ``PLATFORM_HTTP_TIMEOUT``: one request, and the human's answer;
- the worker down across the deadline, the human decided before it: the decision wins;
- the worker's own platform token pasted into a reason never reaches the audit file;
- no token against a platform that requires one: the worker exits 2 with one line.

And one the contract cannot keep (xfail): a click that races the timer, for an
approval no longer among the workspace's newest 50.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import uuid
from datetime import UTC, datetime

import pytest

from durable_approvals.models import ApprovalStatus
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.crash_stages import run_once, stage_named
from tests.helpers import (
    FAST_LISTENER,
    PLATFORM_TOKEN,
    approval_request,
    audit_records,
    eventually,
    finish,
    local_activity_attempts,
    outcomes,
    platform_client,
    running_worker,
    spawn_worker,
    start,
    wait_pending,
    worker_on_queue,
)
from tests.test_decision_races import waiting
from tests.test_durable_timer import settled, timer_only_worker

pytestmark = pytest.mark.platform_modes("strict")


async def test_a_create_whose_reply_died_with_the_worker_leaves_one_request(
    dev_env, settings, tmp_path
):
    """The worker is SIGKILLed once its create POST has reached the platform and before
    the result is recorded; the next worker runs the create again. The upstream ignores
    the Idempotency-Key: only the ``task_id`` marker can find the first request."""
    outcome = await run_once(
        dev_env.client, settings, stage_named("create sent, reply lost"), tmp_path / "crash.log"
    )

    assert (outcome.lost, outcome.duplicated, outcome.hung, outcome.detail) == (
        False,
        False,
        False,
        "",
    )


async def test_a_platform_slower_than_the_http_timeout_gives_one_request_and_the_answer(
    dev_env, settings, platform
):
    """Every create reply takes 3 s, the worker gives up after 2 s: each retry must find the
    request the first POST stored instead of posting again (and timing out again)."""
    impatient = settings.model_copy(update={"platform_http_timeout": 2.0})
    platform.faults.create_delay_seconds = 3.0
    async with running_worker(dev_env.client, impatient) as task_queue:
        handle = await start(dev_env.client, task_queue)
        approval_id = await wait_pending(handle, timeout=60)
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="patient-reviewer")
            result = await finish(handle, "slow_platform_strict", timeout=60)
            items = await api.list_approvals()

    assert (result.status, result.decided_by) == (ApprovalStatus.GRANTED, "patient-reviewer")
    assert [item["id"] for item in items] == [approval_id]
    creates = [n for name, n in await local_activity_attempts(handle) if name == "create_approval"]
    assert creates and creates[0] > 1, "the create was expected to time out and be retried"
    assert outcomes(settings) == ["requested", "granted"]


DOWN_TIMEOUT_SECONDS = 8
STICKY_SECONDS = 3.5
"""Beyond ``worker_sticky_timeout`` (3 s): the fired timer's task has left the dead
worker's sticky queue when the next worker starts."""


async def test_a_decision_made_before_the_deadline_while_no_worker_ran_wins(
    dev_env, settings, platform
):
    """The worker stops while the approval waits; the human decides before the deadline;
    the deadline passes; a worker starts again. The upstream has no expire route, so
    the expiry must read the approval's state: the agent gets the decision, not a timeout."""
    task_queue = f"tq-{uuid.uuid4()}"
    async with worker_on_queue(dev_env.client, settings, task_queue):
        handle = await start(
            dev_env.client, task_queue, approval_request(timeout_seconds=DOWN_TIMEOUT_SECONDS)
        )
        approval_id = await wait_pending(handle)
        await settled(handle, settings)
        deadline = (await handle.query(ApprovalWorkflow.status)).deadline
    assert deadline is not None
    async with platform_client(settings) as api:
        await api.decide(approval_id, approved=False, decided_by="before-deadline")
    before = (deadline - datetime.now(UTC)).total_seconds()
    assert before > 0, "the decision came after the deadline: the machine is too slow for this"
    await asyncio.sleep(before + STICKY_SECONDS)  # the timer fires with no worker anywhere
    async with worker_on_queue(dev_env.client, settings, task_queue):
        result = await finish(handle, "decided_before_deadline_worker_down_strict", timeout=60)

    assert (result.status, result.decided_by) == (ApprovalStatus.DENIED, "before-deadline")
    records = audit_records(settings)
    assert [r["outcome"] for r in records] == ["requested", "denied"]
    assert records[1]["via"] in {"expiry", "catch_up"}


@pytest.mark.xfail(
    strict=True,
    reason="upstream contract limit: without the single-item GET [ext], an approval outside "
    "the workspace's newest 50 cannot be read; the expiry (activities/platform_http.py "
    "expire_approval -> durable_approvals/platform_client.py get_approval) finds nothing and the "
    "agent gets a timeout while the platform shows the human's decision",
)
async def test_a_click_that_races_the_timer_wins_even_beyond_the_newest_50(
    dev_env, settings, platform
):
    """As tests/test_decision_races.py's race, with 50 newer requests in the workspace."""
    task_queue = f"tq-{uuid.uuid4()}"
    async with platform_client(settings) as api:
        async with timer_only_worker(dev_env.client, settings, api.http, task_queue):
            handle = await start(dev_env.client, task_queue, approval_request(timeout_seconds=6))
            await wait_pending(handle)
            for n in range(50):
                await api.create_approval(f"newer {n}", "filler", idempotency_key=f"filler-{n}")
            approval_id = await waiting(dev_env.client, handle, task_queue, settings)
            deadline = (await handle.query(ApprovalWorkflow.status)).deadline
            await api.decide(approval_id, approved=False, decided_by="grace")
            decided_at = datetime.now(UTC)
            result = await finish(handle, "decision_races_timer_beyond_50_strict")
        listed = [item["id"] for item in await api.list_approvals()]

    # The setup: out of the newest 50, decided before the deadline.
    assert approval_id not in listed and deadline is not None and decided_at < deadline
    assert (result.status, result.decided_by) == (ApprovalStatus.DENIED, "grace")


async def test_the_workers_own_token_pasted_into_a_reason_stays_out_of_the_audit(
    dev_env, settings, platform, tmp_path
):
    """A real ``python worker.py`` holding the strict platform's token. The token has no
    secret's shape (no pattern would catch it): only the worker's knowing its own
    token keeps it out of the audit file and the log."""
    log = tmp_path / "worker.log"
    task_queue = f"tq-{uuid.uuid4()}"
    worker = spawn_worker(dev_env.client, settings, task_queue, log)
    try:
        request = approval_request(
            action=f"log in with {PLATFORM_TOKEN} and rotate it",
            reason=f"the agent found the workspace credential {PLATFORM_TOKEN} in a config file",
        )
        handle = await start(dev_env.client, task_queue, request)
        approval_id = await wait_pending(handle, timeout=60)
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="sec-ops")
        result = await asyncio.wait_for(handle.result(), 60)
    finally:
        worker.terminate()
        await asyncio.to_thread(worker.wait, 20)

    assert result.status is ApprovalStatus.GRANTED
    audit_text = settings.audit_log_path.read_text(encoding="utf-8")
    assert audit_text.count('"outcome": ') == 2 and "***REDACTED***" in audit_text
    assert PLATFORM_TOKEN not in audit_text
    assert PLATFORM_TOKEN not in log.read_text(encoding="utf-8", errors="replace")


async def test_no_token_against_a_strict_platform_exits_2_with_one_line(
    dev_env, settings, platform, tmp_path
):
    """No WORKSPACE_TOKEN and no token file: the worker's probe gets 401 and the worker
    stops before serving anything, with one line naming the setting."""
    log = tmp_path / "worker.log"
    unset = settings.model_copy(update={"workspace_token": None})
    worker = spawn_worker(
        dev_env.client,
        unset,
        f"tq-{uuid.uuid4()}",
        log,
        WORKSPACE_TOKEN="",
        CONFIGS_DIR=str(tmp_path / "no-configs"),  # no .auth_token to fall back on
    )
    try:
        status = await asyncio.to_thread(worker.wait, 60)
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGKILL)
            await asyncio.to_thread(worker.wait, 20)
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()

    assert status == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("worker: ") and "requires a token (401)" in lines[0]
    assert "WORKSPACE_TOKEN" in lines[0]
    assert platform.store.count() == 0


async def test_a_timed_out_approval_leaves_no_traceback_in_the_worker_log(
    dev_env, settings, platform, tmp_path
):
    """Every timed-out approval used to log a 19-line ``CancelledError`` traceback (its
    listener activity cancelled at the end of the wait); now nothing waits but a timer."""
    log = tmp_path / "worker.log"
    task_queue = f"tq-{uuid.uuid4()}"
    worker = spawn_worker(dev_env.client, settings, task_queue, log)
    try:
        handles = [
            await start(dev_env.client, task_queue, approval_request(timeout_seconds=2))
            for _ in range(3)
        ]
        results = [await asyncio.wait_for(handle.result(), 60) for handle in handles]
    finally:
        worker.terminate()
        await asyncio.to_thread(worker.wait, 20)
    text = log.read_text(encoding="utf-8", errors="replace")

    assert [r.status for r in results] == [ApprovalStatus.TIMEOUT] * 3
    assert "Traceback" not in text and "CancelledError" not in text, text[-2000:]


async def test_the_listener_warns_when_a_pending_approval_falls_out_of_the_newest_50(
    dev_env, settings, platform, caplog
):
    """The contract cannot read such an approval: the limit is stated where it bites, in
    the worker's log, once per approval (and counted in the session's ``unreadable``)."""
    caplog.set_level(logging.WARNING, logger="durable_approvals.activities.listener")
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, approval_request(timeout_seconds=60))
        approval_id = await wait_pending(handle)
        async with platform_client(settings) as api:
            for n in range(50):
                await api.create_approval(f"newer {n}", "filler", idempotency_key=f"filler-{n}")

        async def warned() -> list[str]:
            return [
                r.getMessage()
                for r in caplog.records
                if "fell out of the platform's newest 50" in r.getMessage()
            ]

        first = await eventually(warned, timeout=30)
        await asyncio.sleep(2 * FAST_LISTENER.reconcile_interval)  # more passes read it again
        messages = await warned()
        await handle.cancel()

    assert approval_id in first[0]
    assert len(messages) == 1  # once per approval, not once per pass
