"""The approval lifecycle end to end: real dev server, real worker, real platform on 127.0.0.1.

Every test runs against both platform modes (docs/platform-modes.md): the reference
platform and the strict one, which serves the upstream contract alone. Where a
promise rests on an extension by nature, the test says what each mode gives, or is
``reference_only`` with its reason and a strict counterpart.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Iterable
from typing import TypeVar

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError

from durable_approvals.models import ApprovalStatus, Decision, DecisionSource, WebSocketMode
from durable_approvals.platform_client import PlatformError
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import (
    FAST_LISTENER,
    WORKSPACE,
    approval_request,
    assert_reference_shape,
    audit_records,
    crash_loop_signs,
    eventually,
    finish,
    local_activity_attempts,
    outcomes,
    platform_client,
    running_worker,
    scheduled_activities,
    start,
    wait_pending,
)

pytestmark = pytest.mark.platform_modes("reference", "strict")

T = TypeVar("T")


async def listener_connected(platform) -> bool:
    return platform.hub.connection_count() >= 1


@pytest.mark.parametrize("websocket", [WebSocketMode.AUTO, WebSocketMode.FALSE])
@pytest.mark.parametrize("approved", [True, False])
async def test_human_decision_reaches_the_agent(dev_env, settings, platform, websocket, approved):
    settings = settings.model_copy(update={"approval_use_websocket": websocket})
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue)
        approval_id = await wait_pending(handle)
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=approved, decided_by="alice", comment="ok")
        result = await finish(handle, f"decided_{websocket.value}_{approved}")

    assert result.approved is approved
    assert result.status is (ApprovalStatus.GRANTED if approved else ApprovalStatus.DENIED)
    tool = assert_reference_shape(result)
    assert tool["approval_id"] == approval_id and tool["decided_by"] == "alice"
    if not approved:
        assert tool["message"] == "Denied by human"
    assert result.comment == (None if platform.strict else "ok")  # comment is an [ext]

    records = audit_records(settings)
    assert [r["outcome"] for r in records] == ["requested", "granted" if approved else "denied"]
    assert {r["trace_id"] for r in records} == {result.trace_id}
    assert records[1]["actor"] == "alice" and records[1]["approval_id"] == approval_id
    expected_paths = {"websocket", "catch_up"} if websocket is WebSocketMode.AUTO else {"polling"}
    assert records[1]["via"] in expected_paths


@pytest.mark.reference_only("never reaches the platform: the mode changes nothing")
async def test_rbac_denial_is_audited_and_creates_nothing(dev_env, settings, platform):
    settings.rbac_config_path.write_text("rbac:\n  roles: [read-only]\n", encoding="utf-8")
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue)
        result = await finish(handle, "rbac_denied")

    assert result.status is ApprovalStatus.RBAC_DENIED and not result.approved
    assert assert_reference_shape(result)["error"] == (
        "RBAC: this workspace does not have the 'approve' permission. Current roles: ['read-only']"
    )
    [record] = audit_records(settings)
    assert (record["event_type"], record["action"], record["outcome"]) == (
        "rbac",
        "rbac.deny",
        "denied",
    )
    assert record["attempted_action"] == "approve" and record["roles"] == ["read-only"]
    async with platform_client(settings) as api:
        assert await api.list_approvals() == []


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, '{"error": "invalid request body"}', "Failed to create request: 400"),
        (201, "<html>not json</html>", "Platform returned invalid JSON (status 201)"),
        (201, '{"status": "pending"}', "Platform reply has no valid approval_id (status 201)"),
    ],
)
async def test_create_failure_is_audited(dev_env, settings, platform, status, body, error):
    platform.faults.create_status = status
    platform.faults.create_body = body
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue)
        result = await finish(handle, f"create_failed_{status}")

    assert result.status is ApprovalStatus.FAILURE and not result.approved
    assert assert_reference_shape(result)["error"] == error
    assert await crash_loop_signs(handle) == []  # non-retryable: one create attempt
    [record] = audit_records(settings)
    assert record["outcome"] == "failure" and record["reason"] == "submit_failed"
    assert record["error"] == error


async def test_decision_made_before_the_listener_subscribed_is_delivered(
    dev_env, settings, platform
):
    platform.faults.refuse_websocket = True  # the listener cannot subscribe yet
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue)
        approval_id = await wait_pending(handle)
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="early-bird")
        platform.faults.refuse_websocket = False
        result = await finish(handle, "decided_before_subscribe")

    assert result.approved and result.decided_by == "early-bird"
    # Not the socket: the catch-up after it opens, or the polling while it was refused.
    assert audit_records(settings)[-1]["via"] in {
        DecisionSource.CATCH_UP.value,
        DecisionSource.POLLING.value,
    }


async def test_listener_reconnects_after_the_platform_drops_the_socket(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue)
        approval_id = await wait_pending(handle)

        await eventually(lambda: listener_connected(platform))
        await platform.hub.drop_all()
        await eventually(lambda: listener_connected(platform))  # it came back on its own
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=False, decided_by="bob")
        result = await finish(handle, "decided_after_reconnect")

    assert result.status is ApprovalStatus.DENIED and result.decided_by == "bob"
    assert audit_records(settings)[-1]["via"] in {"websocket", "catch_up"}


async def test_polling_takes_over_when_the_platform_becomes_unreachable(
    dev_env, settings, platform
):
    """The platform goes away, and comes back without its socket: the listener polls."""
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue)
        approval_id = await wait_pending(handle)
        await eventually(lambda: listener_connected(platform))
        await platform.stop()  # connection refused for HTTP and WebSocket alike
        platform.faults.refuse_websocket = True  # when it comes back, without a socket
        await asyncio.sleep(0.5)
        await platform.start()  # same port, same database
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="carol")
        result = await finish(handle, "decided_by_polling_after_outage")
        sockets = platform.hub.connection_count()

    assert result.approved and result.decided_by == "carol"
    assert audit_records(settings)[-1]["via"] == "polling"
    assert sockets == 0


async def test_retried_create_leaves_exactly_one_request(dev_env, settings, platform):
    """The first POST is stored but its reply comes after the client gave up; the retry
    finds it: by its ``task_id`` marker in the newest 50 (both modes), and on the
    reference platform by the same Idempotency-Key too."""
    fast_timeout = settings.model_copy(update={"platform_http_timeout": 0.5})
    platform.faults.create_delay_seconds = 2.0
    async with running_worker(dev_env.client, fast_timeout) as task_queue:
        handle = await start(dev_env.client, task_queue)
        async with platform_client(settings) as api:
            first = await eventually(api.list_approvals)
            platform.faults.create_delay_seconds = 0.0
            approval_id = await wait_pending(handle)
            await api.decide(approval_id, approved=True, decided_by="dave")
            result = await finish(handle, "create_retried")
            everything = await api.list_approvals()

    assert [item["id"] for item in first] == [approval_id]
    assert len(everything) == 1 and result.approved
    creates = [n for name, n in await local_activity_attempts(handle) if name == "create_approval"]
    assert creates and creates[0] > 1, "the create activity was expected to be retried"


async def test_first_decision_wins_and_the_conflict_is_audited(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue)
        approval_id = await wait_pending(handle)
        first = Decision(approval_id=approval_id, approved=False, decided_by="erin")
        second = Decision(approval_id=approval_id, approved=True, decided_by="mallory")
        await handle.signal(ApprovalWorkflow.decide, first)
        await handle.signal(ApprovalWorkflow.decide, second)
        result = await finish(handle, "conflicting_signals")

    assert result.status is ApprovalStatus.DENIED and result.decided_by == "erin"
    records = audit_records(settings)
    assert [r["outcome"] for r in records][:2] == ["requested", "denied"]
    rejected = [r for r in records if r["outcome"] == "rejected"]
    assert rejected and rejected[0]["decided_by"] == "mallory"
    assert rejected[0]["rejected_because"] in {"conflicting", "late"}


@pytest.mark.reference_only("the expire route and status are [ext]: strict counterparts below")
async def test_real_listener_times_out_and_expires_the_request(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, approval_request(timeout_seconds=2))
        approval_id = await wait_pending(handle)
        result = await finish(handle, "timeout_real_listener")
        async with platform_client(settings) as api:
            item = await api.get_approval(approval_id)
            with pytest.raises(PlatformError) as late:
                await api.decide(approval_id, approved=True, decided_by="late")

    assert result.status is ApprovalStatus.TIMEOUT
    assert assert_reference_shape(result)["error"] == (
        "Timed out after 2.0s waiting for human decision"
    )
    assert item is not None and item["status"] == "expired"
    assert late.value.status_code == 404
    assert outcomes(settings) == ["requested", "timeout"]
    assert await scheduled_activities(handle) == []  # every call is a local activity


@pytest.mark.platform_modes("strict")
async def test_on_strict_a_late_click_changes_the_platform_not_the_timeout(
    dev_env, settings, platform
):
    """Strict counterpart of the test above. The upstream contract cannot expire a
    request: after the timeout it stays pending, a late click is taken there (200),
    and the agent keeps the timeout it was given."""
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, approval_request(timeout_seconds=2))
        approval_id = await wait_pending(handle)
        result = await finish(handle, "timeout_real_listener")
        async with platform_client(settings) as api:
            before = await api.get_approval(approval_id)
            await api.decide(approval_id, approved=True, decided_by="late")  # no error: 200
            after = await api.get_approval(approval_id)
        again = await handle.result()

    assert result.status is ApprovalStatus.TIMEOUT and again.status is ApprovalStatus.TIMEOUT
    assert assert_reference_shape(result)["error"] == (
        "Timed out after 2.0s waiting for human decision"
    )
    assert before is not None and before["status"] == "pending"
    assert after is not None and (after["status"], after["decided_by"]) == ("approved", "late")
    assert outcomes(settings)[:2] == ["requested", "timeout"]
    assert await scheduled_activities(handle) == []


@pytest.mark.platform_modes("strict")
async def test_on_strict_a_late_click_is_audited_as_late(dev_env, settings, platform):
    grace = dataclasses.replace(FAST_LISTENER, unowned_grace=1.0)
    async with running_worker(dev_env.client, settings, tuning=grace) as task_queue:
        handle = await start(dev_env.client, task_queue, approval_request(timeout_seconds=2))
        approval_id = await wait_pending(handle)
        result = await finish(handle, "timeout_then_late_click")
        await eventually(lambda: listener_connected(platform))
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="late")

        async def late_record() -> list[dict]:
            return [r for r in audit_records(settings) if r["outcome"] == "rejected"]

        rejected = await eventually(late_record, timeout=6.0, interval=0.2)

    assert result.status is ApprovalStatus.TIMEOUT
    assert outcomes(settings) == ["requested", "timeout", "rejected"]
    [late] = rejected
    assert (late["approval_id"], late["decided_by"]) == (approval_id, "late")
    assert late["rejected_because"] == "late"


@pytest.mark.parametrize("moment", ["while_waiting", "right_after_create"])
async def test_cancelling_the_workflow_expires_the_request(dev_env, settings, platform, moment):
    """Cancelled while it waits, or as soon as the request exists (the ``requested``
    record may still be in flight): either way the request is expired and audited.
    The strict platform has no expire route: its request stays pending (nothing
    upstream can close it), and the cancellation is audited all the same."""
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue)
        approval_id = await wait_pending(handle)
        if moment == "while_waiting":
            await eventually(lambda: _equal(outcomes(settings), ["requested"]))
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await finish(handle, f"cancelled_{moment}")
        async with platform_client(settings) as api:
            item = await api.get_approval(approval_id)

    assert item is not None and item["status"] == left_behind(platform)
    assert outcomes(settings) == ["requested", "cancelled"]


async def test_cancelling_while_the_create_is_in_flight_expires_what_it_made(
    dev_env, settings, platform
):
    """The POST has reached the platform, its reply has not come back, and the workflow
    is cancelled: the request it made is still expired and audited, not left pending
    (on the strict platform, which cannot expire, it is still audited)."""
    platform.faults.create_delay_seconds = 1.5  # stored at once, answered later
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue)
        async with platform_client(settings) as api:
            (item,) = await eventually(api.list_approvals)
            await handle.cancel()
            with pytest.raises(WorkflowFailureError):
                await finish(handle, "cancelled_during_create")
            after = await api.get_approval(item["id"])

    assert after is not None and after["status"] == left_behind(platform)
    assert outcomes(settings) == ["requested", "cancelled"]
    assert (await handle.describe()).status is WorkflowExecutionStatus.CANCELED


@pytest.mark.reference_only("refused by RBAC before any platform call: the mode changes nothing")
async def test_request_for_another_workspace_fails_with_a_typed_error(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(
            dev_env.client, task_queue, approval_request(workspace_id="someone-else")
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await finish(handle, "unknown_workspace")
    assert failure.value.cause.type == "UnknownWorkspace"  # a local activity's own error
    assert await crash_loop_signs(handle) == []  # non-retryable: one RBAC attempt
    assert WORKSPACE != "someone-else"


async def test_many_pending_approvals_share_one_socket(dev_env, settings, platform):
    """More approvals than the SDK's default activity slots (100): none holds an
    activity while it waits, and one socket serves them all."""
    count = 120
    async with running_worker(dev_env.client, settings, max_cached_workflows=50) as task_queue:
        # Side by side, ten at a time: one after another, the round trips alone took
        # half a minute.
        handles = await side_by_side(start(dev_env.client, task_queue) for _ in range(count))
        approval_ids = await side_by_side(wait_pending(h, timeout=60) for h in handles)
        descriptions = await side_by_side(handle.describe() for handle in handles)
        pending_activities = [len(d.raw_description.pending_activities) for d in descriptions]
        await eventually(lambda: listener_connected(platform))
        sockets = platform.hub.connection_count()
        async with platform_client(settings) as api:
            await side_by_side(
                api.decide(approval_id, approved=n % 2 == 0, decided_by=f"ops-{n}")
                for n, approval_id in enumerate(approval_ids)
            )
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 60)

    assert pending_activities == [0] * count
    assert sockets == 1
    assert [r.decided_by for r in results] == [f"ops-{n}" for n in range(count)]
    assert [r.approved for r in results] == [n % 2 == 0 for n in range(count)]
    via = [r["via"] for r in audit_records(settings) if r["outcome"] in ("granted", "denied")]
    assert len(via) == count and set(via) <= {"websocket", "catch_up", "read"}


async def side_by_side(calls: Iterable[Awaitable[T]], at_once: int = 10) -> list[T]:
    """The results of ``calls`` in order, at most ``at_once`` of them running at a time."""
    gate = asyncio.Semaphore(at_once)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(call) for call in calls)))


def left_behind(platform) -> str:
    """The status a closed-without-decision request keeps: expired where the platform
    can expire ([ext]), pending on the upstream contract."""
    return "pending" if platform.strict else "expired"


async def _equal(value: object, expected: object) -> bool:
    return value == expected
