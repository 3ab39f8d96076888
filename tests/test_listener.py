"""The workspace listener on a real dev server and the real platform: one listener
workflow and one WebSocket per workspace for a fleet of workers, approvals that wait
with no activity, polling and catch-up around a refused socket, events nobody owns,
continue-as-new, a terminated listener restarted, a SIGKILLed listener taken over."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import signal
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from durable_approvals import worker as worker_module
from durable_approvals.activities.approval_index import ApprovalIndex
from durable_approvals.activities.messages import ListenerReport
from durable_approvals.models import ApprovalState, ApprovalStatus, DecisionSource, WebSocketMode
from durable_approvals.settings import Settings
from durable_approvals.workflows import listener as listener_module
from durable_approvals.workflows import listener_start
from durable_approvals.workflows.approval import ApprovalWorkflow
from durable_approvals.workflows.listener import WorkspaceListenerWorkflow, listener_workflow_id
from tests.helpers import (
    FAST_LISTENER,
    WORKSPACE,
    audit_records,
    eventually,
    finish,
    platform_client,
    running_worker,
    scheduled_activities,
    spawn_worker,
    start,
    wait_pending,
    worker_on_queue,
)

LISTEN = "listen_workspace"
# The socket, or a reconcile pass of a silent one (FAST_LISTENER: every 2 s) that read
# the decision before its event was read off the socket.
LISTENER_PATHS = {DecisionSource.WEBSOCKET.value, DecisionSource.CATCH_UP.value}


# --- helpers -------------------------------------------------------------------------


def listener_of(client: Client, task_queue: str) -> WorkflowHandle[Any, Any]:
    """The workspace listener of ``task_queue`` (its latest run)."""
    return client.get_workflow_handle(listener_workflow_id(WORKSPACE, task_queue))


async def pending_activities(handle: WorkflowHandle[Any, Any]) -> list[PendingActivityInfo]:
    return list((await handle.describe()).raw_description.pending_activities)


async def listening(handle: WorkflowHandle[Any, Any]) -> PendingActivityInfo | None:
    """The listener's running session activity, if exactly one runs."""
    pending = await pending_activities(handle)
    started = [a for a in pending if a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED]
    if len(pending) == 1 and len(started) == 1 and started[0].activity_type.name == LISTEN:
        return started[0]
    return None


async def findable(client: Client, task_queue: str, approval_id: str) -> bool:
    """The listener can find the approval's workflow. Its search attributes are upserted by the
    workflow task that also ran the workflow's read-once, so from here on a decision can only
    reach the workflow through the listener."""
    return await ApprovalIndex(client, task_queue, WORKSPACE).owner(approval_id) is not None


async def start_waiting(client: Client, task_queue: str) -> tuple[WorkflowHandle[Any, Any], str]:
    handle = await start(client, task_queue)
    approval_id = await wait_pending(handle)
    await eventually(lambda: findable(client, task_queue, approval_id))
    return handle, approval_id


async def signals(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    return sum(
        event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        for event in history.events
    )


async def session_reports(client: Client, handle: WorkflowHandle[Any, Any]) -> list[ListenerReport]:
    """The ListenerReport of every finished session in the history of ``handle``'s run."""
    history = await handle.fetch_history()
    reports = []
    for event in history.events:
        if event.HasField("activity_task_completed_event_attributes"):
            payloads = event.activity_task_completed_event_attributes.result.payloads
            [report] = await client.data_converter.decode(payloads, [ListenerReport])
            reports.append(report)
    return reports


async def terminate_quietly(handle: WorkflowHandle[Any, Any]) -> None:
    with contextlib.suppress(Exception):  # already closed, or never started
        await handle.terminate(reason="test over")


@contextlib.asynccontextmanager
async def fleet(client: Client, settings: Settings, **options: Any) -> AsyncIterator[str]:
    """Two workers on one task queue, as two hosts of one deployment would run them.

    The listener workflow of the queue is terminated afterwards: with no worker left
    its session would otherwise be retried on the dev server for the rest of the run.
    """
    async with running_worker(client, settings, **options) as task_queue:
        try:
            async with worker_on_queue(client, settings, task_queue, **options):
                yield task_queue
        finally:
            await terminate_quietly(listener_of(client, task_queue))


async def socket_count(platform: Any, expected: int) -> bool:
    return platform.hub.connection_count(WORKSPACE) == expected


async def stays(platform: Any, expected: int, seconds: float) -> list[int]:
    """The workspace's socket counts sampled for ``seconds`` that were not ``expected``."""
    async with sampling_sockets(platform) as samples:
        await asyncio.sleep(seconds)
    return [n for n in samples if n != expected]


async def steady(platform: Any, expected: int, seconds: float) -> bool:
    return await stays(platform, expected, seconds) == []


@contextlib.asynccontextmanager
async def sampling_sockets(platform: Any, every: float = 0.02) -> AsyncIterator[list[int]]:
    """The workspace's socket count, sampled in the background while the block runs."""
    samples: list[int] = []

    async def sample() -> None:
        while True:
            samples.append(platform.hub.connection_count(WORKSPACE))
            await asyncio.sleep(every)

    sampler = asyncio.create_task(sample())
    try:
        yield samples
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler


# --- one socket, one listener ----------------------------------------------------------


async def test_two_workers_run_one_listener_workflow_on_one_socket(dev_env, settings, platform):
    """Both workers start the listener workflow; one run, one session, one socket. When the
    worker that runs the session stops, the other one runs the next session."""
    client = dev_env.client
    async with contextlib.AsyncExitStack() as first, contextlib.AsyncExitStack() as second:
        task_queue = await first.enter_async_context(running_worker(client, settings))
        await second.enter_async_context(worker_on_queue(client, settings, task_queue))
        listener = listener_of(client, task_queue)
        try:
            session = await eventually(lambda: listening(listener))
            await eventually(lambda: socket_count(platform, 1))
            off = await stays(platform, 1, 1.5)
            runs = [
                execution.run_id
                async for execution in client.list_workflows(
                    f"WorkflowType = 'WorkspaceListenerWorkflow' AND TaskQueue = '{task_queue}'"
                )
            ]
            still = await listening(listener)

            host = session.last_worker_identity
            await (first if host == client.identity else second).aclose()  # graceful stop

            async def elsewhere() -> PendingActivityInfo | None:
                now = await listening(listener)
                return now if now is not None and now.last_worker_identity != host else None

            moved = await eventually(elsewhere, timeout=10)
            await eventually(lambda: steady(platform, 1, 0.5), timeout=10)
            handle, approval_id = await start_waiting(client, task_queue)
            async with platform_client(settings) as api:
                await api.decide(approval_id, approved=True, decided_by="after-handover")
            result = await finish(handle, "decided_after_listener_handover")
        finally:
            await terminate_quietly(listener)

    assert off == [], "the workspace had other than one socket"
    assert len(runs) == 1  # both workers started it; the second found it running
    assert still is not None and (still.activity_id, still.attempt) == (session.activity_id, 1)
    assert client.identity in {host, moved.last_worker_identity}  # one worker each
    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "after-handover"


async def test_a_hundred_waiting_approvals_share_the_one_socket_and_each_decision_arrives_once(
    dev_env, settings, platform
):
    client = dev_env.client
    count = 100
    async with fleet(client, settings) as task_queue:
        handles = await asyncio.gather(*(start(client, task_queue) for _ in range(count)))
        index = ApprovalIndex(client, task_queue, WORKSPACE)

        async def all_findable() -> dict[str, str] | None:
            pending = await index.pending()  # approval id → workflow id
            return pending if len(pending) == count else None

        owners = {
            workflow_id: approval_id
            for approval_id, workflow_id in (
                await eventually(all_findable, timeout=60, interval=0.2)
            ).items()
        }
        approval_ids = [owners[h.id] for h in handles]
        await eventually(lambda: socket_count(platform, 1))
        listener = listener_of(client, task_queue)
        before = await eventually(lambda: listening(listener))
        async with sampling_sockets(platform) as sockets, platform_client(settings) as api:
            for n, approval_id in enumerate(approval_ids):
                await api.decide(approval_id, approved=n % 2 == 0, decided_by=f"ops-{n}")
            results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 60)
        after = await listening(listener)
        signal_counts = await asyncio.gather(*(signals(h) for h in handles))

    assert [r.decided_by for r in results] == [f"ops-{n}" for n in range(count)]
    assert [r.approved for r in results] == [n % 2 == 0 for n in range(count)]
    assert sockets and set(sockets) == {1}  # one socket while all 100 were decided
    assert after is not None and (after.activity_id, after.attempt) == (before.activity_id, 1)
    assert signal_counts == [1] * count  # the listener signalled each decision once
    records = audit_records(settings)
    decided = [r for r in records if r["outcome"] in ("granted", "denied")]
    assert sorted(r["approval_id"] for r in decided) == sorted(approval_ids)
    assert {r["via"] for r in decided} <= {"websocket", "catch_up"}
    assert [r for r in records if r["outcome"] == "rejected"] == []


async def test_a_waiting_approval_runs_no_activity(dev_env, settings, platform):
    client = dev_env.client
    async with running_worker(client, settings) as task_queue:
        try:
            handle, approval_id = await start_waiting(client, task_queue)
            await eventually(lambda: listening(listener_of(client, task_queue)))
            waiting = await pending_activities(handle)
            scheduled_while_waiting = await scheduled_activities(handle)
            async with platform_client(settings) as api:
                await api.decide(approval_id, approved=True, decided_by="alice")
            result = await finish(handle, "no_activity_while_waiting")
        finally:
            await terminate_quietly(listener_of(client, task_queue))

    assert waiting == []
    assert scheduled_while_waiting == []
    assert await scheduled_activities(handle) == []  # every call was a local activity
    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "alice"
    assert audit_records(settings)[-1]["via"] in LISTENER_PATHS


# --- no socket -----------------------------------------------------------------------


async def test_decision_made_while_the_socket_is_refused_arrives_by_polling(
    dev_env, settings, platform
):
    """websocket=auto: the listener gives up on the socket and polls; once the socket is
    allowed again it is back on it (FAST_LISTENER retries it every 2 s)."""
    platform.faults.refuse_websocket = True
    client = dev_env.client
    async with running_worker(client, settings) as task_queue:
        try:
            handle, approval_id = await start_waiting(client, task_queue)
            async with platform_client(settings) as api:
                await api.decide(approval_id, approved=False, decided_by="night-shift")
                refused = await finish(handle, "decided_by_polling")
                platform.faults.refuse_websocket = False
                await eventually(lambda: socket_count(platform, 1), timeout=10)
                handle, approval_id = await start_waiting(client, task_queue)
                await api.decide(approval_id, approved=True, decided_by="day-shift")
                allowed = await finish(handle, "decided_on_socket_again")
        finally:
            await terminate_quietly(listener_of(client, task_queue))

    assert refused.status is ApprovalStatus.DENIED and refused.decided_by == "night-shift"
    assert (allowed.status, allowed.decided_by) == (ApprovalStatus.GRANTED, "day-shift")
    vias = [r["via"] for r in audit_records(settings) if r["outcome"] in ("granted", "denied")]
    assert vias[0] == DecisionSource.POLLING.value
    assert vias[1] in {DecisionSource.WEBSOCKET.value, DecisionSource.CATCH_UP.value}


async def test_decision_made_while_the_socket_is_refused_arrives_by_catch_up_when_it_is_back(
    dev_env, settings, platform
):
    """websocket=true (no polling): the socket drops and is refused, a decision is made; it
    cannot arrive until the socket is back, and then the catch-up pass brings it."""
    settings = settings.model_copy(update={"approval_use_websocket": WebSocketMode.TRUE})
    client = dev_env.client
    async with running_worker(client, settings) as task_queue:
        try:
            handle, approval_id = await start_waiting(client, task_queue)
            await eventually(lambda: socket_count(platform, 1))
            platform.faults.refuse_websocket = True
            await platform.hub.drop_all()
            async with platform_client(settings) as api:
                await api.decide(approval_id, approved=True, decided_by="while-down")
            await asyncio.sleep(1.5)  # no polling in this mode: nothing can bring it
            undelivered = await handle.query(ApprovalWorkflow.status)
            platform.faults.refuse_websocket = False
            result = await finish(handle, "decided_while_socket_refused")
        finally:
            await terminate_quietly(listener_of(client, task_queue))

    assert undelivered.decision is None and undelivered.state is ApprovalState.PENDING
    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "while-down"
    assert audit_records(settings)[-1]["via"] == DecisionSource.CATCH_UP.value


# --- a socket that loses an event ----------------------------------------------------------


async def test_a_decision_event_lost_on_a_busy_socket_is_reconciled(
    dev_env, settings, platform, monkeypatch
):
    """The hub drops a message for a socket whose queue is full and keeps the socket open;
    here the decision's event is the one dropped, while requests made meanwhile keep the
    socket busy. FAST_LISTENER reconciles every 2 s: 5 s is plenty for a pass to find it."""
    hub = platform.hub
    deliver = hub.broadcast

    def lose_decisions(workspace_id: str, envelope: dict[str, Any]) -> int:
        if envelope.get("event") in ("APPROVAL_APPROVED", "APPROVAL_DENIED"):
            return 0  # as Subscriber.offer does when the socket's queue is full
        return deliver(workspace_id, envelope)

    client = dev_env.client
    async with running_worker(client, settings) as task_queue, platform_client(settings) as api:
        try:
            handle, approval_id = await start_waiting(client, task_queue)
            await eventually(lambda: socket_count(platform, 1))
            await asyncio.sleep(FAST_LISTENER.settle + 0.5)  # past the connect's catch-up
            monkeypatch.setattr(hub, "broadcast", lose_decisions)
            await api.decide(approval_id, approved=True, decided_by="lost-event")

            async def chatter() -> None:
                while True:  # other approvals are requested: the socket is not silent
                    await api.create_approval("other", "", idempotency_key=str(uuid.uuid4()))
                    await asyncio.sleep(0.5)

            busy = asyncio.create_task(chatter())
            try:
                result = await finish(handle, "decided_event_lost_on_busy_socket", timeout=5)
            finally:
                busy.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await busy
        finally:
            await terminate_quietly(listener_of(client, task_queue))

    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "lost-event"


# --- events nobody owns ------------------------------------------------------------------


async def test_an_event_for_an_approval_no_workflow_owns_is_ignored(
    dev_env, settings, platform, caplog
):
    """An approval made straight on the platform (no workflow) is decided: its socket event
    is retried for ``unowned_grace``, then dropped and counted; the session goes on and a
    later decision still arrives."""
    caplog.set_level(logging.DEBUG, logger="durable_approvals.activities.listener")
    settings = settings.model_copy(update={"listener_session_seconds": 3.0})
    tuning = dataclasses.replace(FAST_LISTENER, unowned_grace=0.3)
    client = dev_env.client
    async with running_worker(client, settings, tuning=tuning) as task_queue:
        listener = listener_of(client, task_queue)
        try:
            handle, approval_id = await start_waiting(client, task_queue)
            # Decide at the start of a session, so that the grace ends within it.
            first = await eventually(lambda: listening(listener))
            second = await eventually(
                lambda: _newer_session(listener, first.activity_id), timeout=10
            )
            await eventually(lambda: socket_count(platform, 1))
            async with platform_client(settings) as api:
                orphan = await api.create_approval(
                    "Made outside any workflow", "", idempotency_key=str(uuid.uuid4())
                )
                await api.decide(orphan, approved=True, decided_by="stranger")

                async def counted() -> ListenerReport | None:
                    report = await listener.query(WorkspaceListenerWorkflow.last_session)
                    return report if report is not None and report.unowned_events else None

                report = await eventually(counted, timeout=10)
                await api.decide(approval_id, approved=False, decided_by="later")
                result = await finish(handle, "decided_after_an_unowned_event")
            failed = [
                e
                for e in (await listener.fetch_history()).events
                if e.HasField("activity_task_failed_event_attributes")
                or e.HasField("activity_task_timed_out_event_attributes")
            ]
        finally:
            await terminate_quietly(listener)

    assert report.unowned_events == 1
    assert second.attempt == 1 and failed == []  # no session crashed
    assert result.status is ApprovalStatus.DENIED and result.decided_by == "later"
    ignored = [r.getMessage() for r in caplog.records if "no running workflow owns" in r.message]
    assert ignored == [f"no running workflow owns approval {orphan}: ignored"]


async def _newer_session(
    listener: WorkflowHandle[Any, Any], activity_id: str
) -> PendingActivityInfo | None:
    session = await listening(listener)
    return session if session is not None and session.activity_id != activity_id else None


# --- continue-as-new --------------------------------------------------------------------


async def test_the_listener_continues_as_new_and_decisions_arrive_across_runs(
    dev_env, settings, platform, monkeypatch
):
    """Two one-second sessions per run: a new run appears and a decision made after it still
    arrives. ``SESSIONS_PER_RUN`` is patched on the module the workflow reads, which the
    worker's sandbox passes through (durable_approvals/sandbox.py)."""
    monkeypatch.setattr(listener_module, "SESSIONS_PER_RUN", 2)
    settings = settings.model_copy(update={"listener_session_seconds": 1.0})
    client = dev_env.client
    async with running_worker(client, settings) as task_queue:
        listener = listener_of(client, task_queue)
        try:
            first_run = (await listener.describe()).run_id
            handle, approval_id = await start_waiting(client, task_queue)

            async def new_run() -> str | None:
                run_id = (await listener.describe()).run_id
                return run_id if run_id != first_run else None

            second_run = await eventually(new_run, timeout=15)
            await eventually(lambda: listening(listener))
            async with platform_client(settings) as api:
                await api.decide(approval_id, approved=True, decided_by="after-rollover")
            result = await finish(handle, "decided_after_continue_as_new")
            first = client.get_workflow_handle(listener.id, run_id=first_run)
            first_history = await first.fetch_history()
            reports = await session_reports(client, first)
        finally:
            await terminate_quietly(listener)

    assert second_run is not None
    assert len(reports) == 2  # SESSIONS_PER_RUN sessions, then the new run
    assert first_history.events[-1].event_type == (
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    )
    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "after-rollover"


# --- a terminated listener ------------------------------------------------------------------


async def test_a_terminated_listener_is_started_again_by_the_workers_keeper(
    dev_env, settings, platform, monkeypatch
):
    """The keeper (``keep_listener``) ensures the listener every 30 s in production; here
    every 0.3 s: ``worker.build_worker`` is given the real keeper with a shorter period.

    The terminated run's session learns of it at its next heartbeat to the server (the
    SDK sends them at most every 0.8 x heartbeat timeout), so for a few seconds it and the
    new session both hold a socket; then one is left."""
    monkeypatch.setattr(
        worker_module, "keep_listener", functools.partial(listener_start.keep_listener, every=0.3)
    )
    client = dev_env.client
    async with fleet(client, settings) as task_queue:
        listener = listener_of(client, task_queue)
        handle, approval_id = await start_waiting(client, task_queue)
        await eventually(lambda: listening(listener))
        await eventually(lambda: socket_count(platform, 1))
        first_run = (await listener.describe()).run_id
        await listener.terminate(reason="operator mistake")

        async def restarted() -> str | None:
            description = await listener.describe()
            running = description.status is WorkflowExecutionStatus.RUNNING
            return description.run_id if running and description.run_id != first_run else None

        terminated_at = time.monotonic()
        second_run = await eventually(restarted, timeout=10)
        await eventually(lambda: listening(listener))
        # The terminated run's session leaves at its next heartbeat; one socket is left.
        await eventually(
            lambda: steady(platform, 1, 1.0), timeout=settings.approval_heartbeat_timeout + 4
        )
        settled_after = time.monotonic() - terminated_at
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="after-restart")
        result = await finish(handle, "decided_after_listener_restart")
        runs = {
            execution.run_id: execution.status
            async for execution in client.list_workflows(f"WorkflowId = '{listener.id}'")
        }

    assert runs == {
        first_run: WorkflowExecutionStatus.TERMINATED,
        second_run: WorkflowExecutionStatus.RUNNING,
    }  # the keepers of both workers, every 0.3 s, started it once
    assert settled_after <= settings.approval_heartbeat_timeout + 4
    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "after-restart"
    [granted] = [r for r in audit_records(settings) if r["outcome"] == "granted"]
    assert granted["via"] in LISTENER_PATHS


# --- a killed worker ----------------------------------------------------------------------


HEARTBEAT_TIMEOUT = 3.0


async def test_a_sigkilled_listener_worker_is_taken_over_by_the_other(
    dev_env, settings, platform, tmp_path
):
    """Two ``python worker.py`` processes; the one that runs the listener session is killed.
    The other runs the session within heartbeat timeout + 5 s, and a decision made while no
    session ran arrives by that session's catch-up."""
    client = dev_env.client
    task_queue = f"tq-kill-{uuid.uuid4()}"
    log = tmp_path / "workers.log"
    env = {"APPROVAL_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT)}
    processes = [spawn_worker(client, settings, task_queue, log, **env) for _ in range(2)]
    listener = listener_of(client, task_queue)
    try:
        handle, approval_id = await start_waiting(client, task_queue)

        async def session_host() -> int | None:
            session = await listening(listener)
            if session is None or platform.hub.connection_count(WORKSPACE) != 1:
                return None
            pid = int(session.last_worker_identity.split("@", 1)[0])
            return pid if pid in {p.pid for p in processes} else None

        pid = await eventually(session_host, timeout=30)
        [victim] = [p for p in processes if p.pid == pid]
        [survivor] = [p for p in processes if p.pid != pid]
        victim.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        await asyncio.to_thread(victim.wait, 10)
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="meanwhile")

        async def taken_over() -> bool:
            return await session_host() == survivor.pid

        await eventually(taken_over, timeout=HEARTBEAT_TIMEOUT + 5, interval=0.1)
        took = time.monotonic() - killed_at
        result = await finish(handle, "decided_while_listener_taken_over", timeout=30)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                await asyncio.to_thread(process.wait, 10)
        await terminate_quietly(listener)

    output = log.read_text(errors="replace")
    assert took <= HEARTBEAT_TIMEOUT + 5, output
    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "meanwhile", output
    records = audit_records(settings)
    assert [r["outcome"] for r in records] == ["requested", "granted"]
    assert records[-1]["via"] == DecisionSource.CATCH_UP.value  # the new session's catch-up


async def test_a_worker_started_with_other_listener_settings_reconfigures_the_listener(
    dev_env, settings, platform
):
    """The listener was started with a socket; a worker started later with
    APPROVAL_USE_WEBSOCKET=false sends its settings: the session is cancelled, the
    workflow continues as new with them, the socket closes and decisions come by polling."""
    polling = settings.model_copy(update={"approval_use_websocket": WebSocketMode.FALSE})
    async with running_worker(dev_env.client, settings) as task_queue:
        listener = dev_env.client.get_workflow_handle(listener_workflow_id(WORKSPACE, task_queue))
        await eventually(lambda: socket_count(platform, 1))
        first_run = (await listener.describe()).run_id
        async with worker_on_queue(dev_env.client, polling, task_queue):
            config = await listener.query(WorkspaceListenerWorkflow.config)
            await eventually(lambda: socket_count(platform, 0))
            handle = await start(dev_env.client, task_queue)
            approval_id = await wait_pending(handle)
            async with platform_client(settings) as api:
                await api.decide(approval_id, approved=True, decided_by="ops")
            result = await finish(handle, "decided_after_reconfigure")
            new_run = (await listener.describe()).run_id

    assert config.websocket is WebSocketMode.FALSE
    assert new_run != first_run
    assert result.approved and audit_records(settings)[-1]["via"] in {"polling", "read"}
