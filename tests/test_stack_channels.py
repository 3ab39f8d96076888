"""``python -m durable_approvals.devstack --channels`` (with verified deciders): the README's
stack shows Slack and email approval without a real Slack workspace (docs/channels.md)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx

from durable_approvals.models import ApprovalStatus
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import approval_request, eventually, wait_pending
from tests.test_stack import WORKSPACE, Stack, free_ports


async def test_the_stack_approves_from_the_slack_standin_with_verified_identity(tmp_path):
    data_dir = tmp_path / "data"
    standin, endpoint, smtp = free_ports(3)
    args = (
        "--channels",
        "--verified-deciders",
        "--slack-standin-port",
        str(standin),
        "--channels-port",
        str(endpoint),
        "--smtp-port",
        str(smtp),
    )
    standin_url = f"http://127.0.0.1:{standin}"
    async with Stack(data_dir, extra_args=args) as stack, httpx.AsyncClient(timeout=30) as http:
        banner = "".join(stack.output)
        manifest = (await http.get(f"http://127.0.0.1:{endpoint}/slack/manifest")).json()
        client = await stack.client()
        handle = await client.start_workflow(
            ApprovalWorkflow.run,
            approval_request(workspace_id=WORKSPACE, requester="carol"),
            id=f"stack-channels-{uuid.uuid4()}",
            task_queue="approvals",
        )
        approval_id = await wait_pending(handle, timeout=30)

        async def message() -> dict[str, Any] | None:
            listed = (await http.get(f"{standin_url}/_standin/messages")).json()
            return next(
                (m for m in listed if m["metadata"]["event_payload"]["approval_id"] == approval_id),
                None,
            )

        posted = await eventually(message, timeout=30)
        click = await http.post(
            f"{standin_url}/_standin/click",
            json={
                "channel": posted["channel"],
                "ts": posted["ts"],
                "action_id": "approve",
                "user": "U0ALICE",
            },
        )
        result = await asyncio.wait_for(handle.result(), 30)

        async def outcome_shown() -> bool:
            shown = await message()
            return shown is not None and "Approved by alice" in shown["text"]

        await eventually(outcome_shown, timeout=30)
        assert await stack.stop() == 0

    assert f"http://127.0.0.1:{endpoint}" in banner and standin_url in banner
    assert manifest["settings"]["interactivity"]["request_url"] == (
        f"http://127.0.0.1:{endpoint}/slack/interactivity"
    )
    assert json.loads(click.json()["reply"])["text"] == "taken: approved"
    assert (result.status, result.decided_by) == (ApprovalStatus.GRANTED, "alice")
    records = [json.loads(line) for line in (data_dir / "audit.jsonl").read_text().splitlines()]
    [granted] = [r for r in records if r["outcome"] == "granted"]
    assert (granted["channel"], granted["channel_user"], granted["verified"]) == (
        "slack",
        "U0ALICE",
        True,
    )
    mail = (data_dir / "logs" / "mail.log").read_text()
    assert "Approve: http://127.0.0.1:" in mail and "alice@example.com" in mail
    secrets = [
        (data_dir / "channels" / name).read_text().strip()
        for name in ("slack-bot-token", "slack-signing-secret", "link-secret")
    ]
    logs = "".join(p.read_text(errors="replace") for p in (data_dir / "logs").iterdir())
    audit = (data_dir / "audit.jsonl").read_text()
    for secret in secrets:
        assert secret not in logs and secret not in audit and secret not in banner
    assert all(
        (data_dir / "channels" / name).stat().st_mode & 0o777 == 0o600
        for name in ("slack-bot-token", "slack-signing-secret", "link-secret", "channel-key.pem")
    )
