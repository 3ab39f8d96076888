"""The requester cannot decide their own request: refused by the workflow (any path,
audited as ``rejected`` with ``rejected_because: self-approval``) and by the reference
platform (403, nothing stored, no event), and shown as one line by the CLI.

Real dev server, real worker, real platform on 127.0.0.1. Histories recorded here
(``RECORD_HISTORIES``) are the replay test's cover for the refusal's code path.
"""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import pytest
from websockets.asyncio.client import connect

from durable_approvals.models import ApprovalStatus, Decision, WebSocketMode
from durable_approvals.platform_client import PlatformError
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import (
    WORKSPACE,
    approval_request,
    audit_records,
    eventually,
    finish,
    outcomes,
    platform_client,
    running_worker,
    start,
    wait_pending,
)
from tests.test_cli import cli

LIMIT = 60.0
REFUSAL = {
    "error": "the requester cannot decide their own approval",
    "reason": "self-approval",
}


async def _create(http: httpx.AsyncClient, workspace: str, requester: str | None) -> str:
    body = {"action": "rotate the keys", **({"requester": requester} if requester else {})}
    response = await http.post(f"/workspaces/{workspace}/approvals", json=body)
    assert response.status_code == 201, response.text
    approval_id: str = response.json()["approval_id"]
    return approval_id


@pytest.mark.parametrize("decided_by", ["alice", "  ALICE ", "Alice"])
async def test_the_platform_refuses_the_requester_with_403_and_changes_nothing(
    platform, decided_by
):
    workspace = "ws-self"
    async with (
        asyncio.timeout(LIMIT),
        httpx.AsyncClient(base_url=platform.url, timeout=5.0) as http,
        connect(
            f"ws://127.0.0.1:{platform.port}/ws?workspace={workspace}", open_timeout=5
        ) as socket,
    ):
        approval_id = await _create(http, workspace, requester="alice")
        await socket.recv()  # APPROVAL_REQUESTED
        url = f"/workspaces/{workspace}/approvals/{approval_id}"
        refused = await http.post(
            f"{url}/decide", json={"decision": "approved", "decided_by": decided_by}
        )
        after_refusal = (await http.get(url)).json()
        by_someone_else = await http.post(
            f"{url}/decide", json={"decision": "denied", "decided_by": "bob"}
        )
        event = json.loads(await socket.recv())  # the first event after the refusal

    assert refused.status_code == 403 and refused.json() == REFUSAL
    assert (after_refusal["status"], after_refusal["decided_by"]) == ("pending", None)
    assert by_someone_else.status_code == 200
    assert event["event"] == "APPROVAL_DENIED" and event["payload"]["decided_by"] == "bob"


async def test_without_a_requester_anyone_may_decide(platform):
    async with asyncio.timeout(LIMIT), httpx.AsyncClient(base_url=platform.url) as http:
        approval_id = await _create(http, "ws-self", requester=None)
        decided = await http.post(
            f"/workspaces/ws-self/approvals/{approval_id}/decide", json={"decision": "approved"}
        )
    assert decided.status_code == 200


async def test_a_self_approval_signal_is_refused_and_audited_then_someone_else_decides(
    dev_env, settings, platform
):
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, approval_request(requester="alice"))
        approval_id = await wait_pending(handle)
        async with platform_client(settings) as api:
            with pytest.raises(PlatformError) as on_platform:
                await api.decide(approval_id, approved=True, decided_by="alice")
            await handle.signal(
                ApprovalWorkflow.decide,
                Decision(approval_id=approval_id, approved=True, decided_by=" Alice"),
            )
            # Audited while the workflow still waits, not only when it ends.
            await eventually(lambda: _equal(outcomes(settings), ["requested", "rejected"]))
            view = await handle.query(ApprovalWorkflow.status)
            await api.decide(approval_id, approved=False, decided_by="bob")
        result = await finish(handle, "self_approval_signal_refused")

    assert on_platform.value.status_code == 403
    assert "requester cannot decide" in on_platform.value.message
    assert (view.state.value, view.decision, view.rejected_decisions) == ("pending", None, 1)
    assert result.status is ApprovalStatus.DENIED and result.decided_by == "bob"
    records = audit_records(settings)
    assert [r["outcome"] for r in records] == ["requested", "rejected", "denied"]
    rejected = records[1]
    assert (rejected["actor"], rejected["decided_by"], rejected["decision"]) == (
        " Alice",
        " Alice",
        "approved",
    )
    assert (rejected["rejected_because"], rejected["via"]) == ("self-approval", "client")


@pytest.mark.parametrize("websocket", [WebSocketMode.AUTO, WebSocketMode.FALSE])
async def test_a_self_approval_recorded_by_a_platform_without_the_rule_never_wins(
    dev_env, settings, platform, websocket
):
    """A platform that stores the requester's decision (Molecule; here the
    ``allow_self_decision`` fault): the listener or poller brings it and the workflow
    refuses it; at the deadline the expiry's 409 brings it again and it is still
    refused: the result is a timeout, the attempt is audited once."""
    platform.faults.allow_self_decision = True
    request = approval_request(requester="alice", timeout_seconds=3)
    settings = settings.model_copy(update={"approval_use_websocket": websocket})
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, request)
        approval_id = await wait_pending(handle)
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="ALICE")
        result = await finish(handle, f"self_approval_on_platform_{websocket.value}")

    assert result.status is ApprovalStatus.TIMEOUT and not result.approved
    records = audit_records(settings)
    assert sorted(r["outcome"] for r in records) == ["rejected", "requested", "timeout"]
    [rejected] = [r for r in records if r["outcome"] == "rejected"]
    assert (rejected["decided_by"], rejected["rejected_because"]) == ("ALICE", "self-approval")
    expected_paths = {"websocket", "catch_up"} if websocket is WebSocketMode.AUTO else {"polling"}
    # "expiry" when the deadline came before the listener or poller saw the decision.
    assert rejected["via"] in expected_paths | {"expiry"}


async def test_cli_decide_by_the_requester_is_refused_in_one_line(settings, platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=5.0) as http:
        approval_id = await _create(http, WORKSPACE, requester="alice")
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": "127.0.0.1:1",  # decide talks to the platform only
        "PLATFORM_URL": settings.platform_url,
        "WORKSPACE_ID": WORKSPACE,
    }
    status, out, err = await cli(env, "decide", approval_id, "--approve", "--by", "Alice")

    assert (status, out, err) == (3, f"refused {approval_id}: self-approval\n", "")
    async with platform_client(settings) as api:
        item = await api.get_approval(approval_id)
    assert item is not None and item["status"] == "pending"


async def _equal(value: object, expected: object) -> bool:
    return value == expected
