"""Deciding from Slack and email end to end (docs/channels.md): real dev server, real
worker, the real platform in both modes, the Slack stand-in over HTTP with the Slack SDK,
aiosmtpd; the channel endpoint decides through the one decision path and signs what it
sends, in a workspace that requires verified deciders."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowFailureError

from durable_approvals.channels.keys import ChannelKey, LinkSigner
from durable_approvals.client import offer_decision, waiting_workflow
from durable_approvals.devstack.slack_standin import (
    form_body,
    interaction_payload,
    view_submission,
)
from durable_approvals.models import ApprovalState, ApprovalStatus, Decision, VerdictOutcome
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.channel_fixtures import open_channel_stack
from tests.channels_kit import CHANNEL, LINK_SECRET, OPS_CHANNEL, SECRETS, ChannelStack, buttons
from tests.helpers import (
    WORKSPACE,
    approval_request,
    audit_records,
    eventually,
    finish,
    running_worker,
    spawn_worker,
    start,
    wait_pending,
)

pytestmark = pytest.mark.platform_modes("reference", "strict")

GROUPS = {"ops": ["alice", "bob", "agent"], "leads": ["dave"]}


@pytest.fixture
async def deployment(dev_env, settings) -> AsyncIterator[tuple[Any, ChannelStack]]:
    """A worker on its own task queue and the channel stack deciding for it."""
    (settings.rbac_config_path.parent).mkdir(parents=True, exist_ok=True)
    async with running_worker(dev_env.client, settings) as task_queue:
        deployed = settings.model_copy(update={"temporal_task_queue": task_queue})
        async for stack in open_channel_stack(
            dev_env.client, deployed, groups=GROUPS, require_verified=True
        ):
            yield task_queue, stack


async def announce(stack: ChannelStack, handle: Any) -> str:
    """Wait until the workflow has told Slack of its request; the approval id."""
    approval_id = await wait_pending(handle)

    async def posted() -> bool:
        return stack.message_of(approval_id) is not None

    await eventually(posted)
    return approval_id


async def shows(stack: ChannelStack, approval_id: str, text: str) -> None:
    """Wait until the approval's Slack message shows ``text``."""

    async def shown() -> bool:
        message = stack.message_of(approval_id)
        return message is not None and text in message.text

    await eventually(shown)


def rejections(stack: ChannelStack) -> list[tuple[str, str | None]]:
    return [
        (r["rejected_because"], r.get("channel_user"))
        for r in audit_records(stack.settings)
        if r["outcome"] == "rejected"
    ]


async def state_of(handle: Any) -> ApprovalState:
    view = await handle.query(ApprovalWorkflow.status)
    return view.state


async def test_a_mapped_approvers_click_approves_verified(dev_env, deployment) -> None:
    task_queue, stack = deployment
    handle = await start(dev_env.client, task_queue, approval_request(requester="agent"))
    approval_id = await announce(stack, handle)
    answer = await stack.click(approval_id, "approve", "U0ALICE")
    assert answer.status_code == 200 and answer.json()["text"] == "taken: approved"
    result = await finish(handle, "channel_slack_approves")
    assert (result.status, result.decided_by) == (ApprovalStatus.GRANTED, "alice")
    assert stack.replies() == ["taken: approved"]
    await shows(stack, approval_id, "Approved by alice")
    message = stack.message_of(approval_id)
    assert buttons(message) == [] and len(stack.slack.state.messages) == 1
    notified = [r for r in audit_records(stack.settings) if r["event_type"] == "notify"]
    assert [(r["outcome"], r["notice"]) for r in notified] == [
        ("notified", "requested"),
        ("notified", "decided"),
    ]
    [granted] = [r for r in audit_records(stack.settings) if r["outcome"] == "granted"]
    assert (granted["channel"], granted["channel_user"], granted["verified"]) == (
        "slack",
        "U0ALICE",
        True,
    )


async def test_two_slack_approvers_satisfy_two_of_group_and_the_requester_is_refused(
    dev_env, deployment
) -> None:
    task_queue, stack = deployment
    request = approval_request(requester="agent", approvals_required=2, approver_group="ops")
    handle = await start(dev_env.client, task_queue, request)
    approval_id = await announce(stack, handle)
    assert (await stack.click(approval_id, "approve", "U0AGENT")).json()["text"] == (
        "refused: self-approval"
    )
    assert (await stack.click(approval_id, "approve", "U0CAROL")).json()["text"] == (
        "refused: not in approver group"
    )
    assert (await stack.click(approval_id, "approve", "U0ALICE")).json()["text"] == (
        "counted: 1 of 2"
    )
    await shows(stack, approval_id, "1 of 2: alice")
    assert (await stack.click(approval_id, "approve", "U0BOB")).json()["text"] == "taken: approved"
    result = await finish(handle, "channel_slack_two_of_group")
    assert result.status is ApprovalStatus.GRANTED and result.approvers == ["alice", "bob"]
    await shows(stack, approval_id, "Approved by alice, bob")
    assert stack.replies() == [
        "refused: self-approval",
        "refused: not in approver group",
        "counted: 1 of 2",
        "taken: approved",
    ]
    assert ("self-approval", "U0AGENT") in rejections(stack)
    voted = [r for r in audit_records(stack.settings) if r["outcome"] == "voted"]
    assert [(r["actor"], r["channel_user"]) for r in voted] == [
        ("alice", "U0ALICE"),
        ("bob", "U0BOB"),
    ]


async def test_bad_slack_input_is_refused_audited_and_decides_nothing(dev_env, deployment) -> None:
    task_queue, stack = deployment
    handle = await start(dev_env.client, task_queue, approval_request(requester="agent"))
    approval_id = await announce(stack, handle)
    message = stack.message_of(approval_id)
    interactivity = stack.slack.state.interactivity_url
    payload = interaction_payload(
        message, "approve", "U0ALICE", f"{stack.slack.url}/_standin/response/x/y"
    )
    body = form_body(payload)
    stale_button = form_body(interaction_payload(message, "deny", "U0BOB", payload["response_url"]))
    async with httpx.AsyncClient(timeout=30) as http:
        # Forged: signed with another secret.
        forged = dict(stack.slack.state.signed_headers(body))
        forged["X-Slack-Signature"] = "v0=" + "0" * 64
        assert (await http.post(interactivity, content=body, headers=forged)).status_code == 401
        # Stale: a valid signature over a timestamp ten minutes old.
        stale = stack.slack.state.signed_headers(body, at=time.time() - 600)
        assert (await http.post(interactivity, content=body, headers=stale)).status_code == 401
        # Not a form: refused before anything else.
        as_json = {**stack.slack.state.signed_headers(body), "Content-Type": "application/json"}
        assert (await http.post(interactivity, content=body, headers=as_json)).status_code == 415
        # Bounded: a 100 KB body is refused before it is read whole; a foreign Host too.
        huge = form_body({**payload, "padding": "x" * 100_000})
        too_big = await http.post(
            interactivity, content=huge, headers=stack.slack.state.signed_headers(huge)
        )
        assert too_big.status_code == 413
        rebound = {**stack.slack.state.signed_headers(body), "Host": "attacker.example"}
        assert (await http.post(interactivity, content=body, headers=rebound)).status_code == 400
        # Unknown Slack user (properly signed).
        unknown = form_body(
            interaction_payload(message, "approve", "U0MALLORY", payload["response_url"])
        )
        reply = await http.post(
            interactivity, content=unknown, headers=stack.slack.state.signed_headers(unknown)
        )
        assert (reply.status_code, reply.json()["text"]) == (200, "refused: unknown Slack user")
        # A replayed payload: the same signed request twice.
        headers = stack.slack.state.signed_headers(body)
        denied = form_body(
            interaction_payload(message, "deny", "U0MALLORY", payload["response_url"])
        )
        denied_headers = stack.slack.state.signed_headers(denied)
        first = await http.post(interactivity, content=denied, headers=denied_headers)
        again = await http.post(interactivity, content=denied, headers=denied_headers)
        assert first.json()["text"] == "refused: unknown Slack user"
        assert again.json()["text"] == "refused: replayed request"
        assert await state_of(handle) is ApprovalState.PENDING
        # A decision signed with a key the workspace does not trust: the workflow refuses it.
        forger = ChannelKey.load(stack.config_path.parent / "forger.pem")
        forged_decision = forger.sign_decision(
            WORKSPACE,
            Decision(
                approval_id=approval_id,
                approved=True,
                decided_by="alice",
                channel="slack",
                channel_user="U0ALICE",
            ),
        )
        workflow_id = await waiting_workflow(dev_env.client, stack.settings, approval_id)
        assert workflow_id is not None
        verdict = await offer_decision(
            dev_env.client.get_workflow_handle(workflow_id), forged_decision
        )
        assert (verdict.outcome, verdict.reason) == (VerdictOutcome.REFUSED, "unverified")
        # The real approver decides; then a button of the ended approval is refused.
        assert (await http.post(interactivity, content=body, headers=headers)).json()[
            "text"
        ] == "taken: approved"
        await finish(handle, "channel_slack_bad_input")
        # A button Bob's Slack still showed (the message has none by now).
        await shows(stack, approval_id, "Approved by alice")
        late = await http.post(
            interactivity,
            content=stale_button,
            headers=stack.slack.state.signed_headers(stale_button),
        )
        assert late.json()["text"] == "refused: conflicting"  # alice approved it
    reasons = [reason for reason, _ in rejections(stack)]
    for expected in (
        "bad or stale Slack signature",
        "unknown Slack user",
        "replayed request",
        "conflicting",
    ):
        assert expected in reasons
    assert reasons.count("bad or stale Slack signature") == 2
    assert ("unknown Slack user", "U0MALLORY") in rejections(stack)
    result = await handle.result()
    assert (result.status, result.decided_by) == (ApprovalStatus.GRANTED, "alice")
    assert_no_secrets(stack)


def assert_no_secrets(stack: ChannelStack) -> None:
    audit = stack.settings.audit_log_path.read_text()
    for secret in SECRETS:
        assert secret not in audit


def link_parts(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


async def test_an_email_link_approves_after_confirmation(dev_env, deployment) -> None:
    task_queue, stack = deployment
    handle = await start(dev_env.client, task_queue, approval_request(requester="agent"))
    approval_id = await announce(stack, handle)
    [mail] = await stack.smtp.wait_for("alice@example.com")
    body = mail.get_content()
    approve_url = next(
        line.split(" ", 1)[1].strip() for line in body.splitlines() if line.startswith("Approve:")
    )
    origin = {"Origin": stack.url}
    async with httpx.AsyncClient(timeout=30) as http:
        page = await http.get(approve_url)  # what a mail scanner does too
        assert page.status_code == 200 and "deciding as <b>alice</b>" in page.text
        assert page.headers["x-frame-options"] == "DENY"
        assert await state_of(handle) is ApprovalState.PENDING  # a GET decides nothing
        form = {"t": link_parts(approve_url)["t"], "approval": approval_id, "approver": "alice"}
        cross = await http.post(
            f"{stack.url}/email/decide", data=form, headers={"Origin": "http://evil.example"}
        )
        assert cross.status_code == 403 and "refused: cross-origin form" in cross.text
        as_json = await http.post(f"{stack.url}/email/decide", json=form, headers=origin)
        assert as_json.status_code == 415
        other = await http.post(
            f"{stack.url}/email/decide", data={**form, "approval": "another-1"}, headers=origin
        )
        assert "refused: link for another approval" in other.text
        bob = await http.post(
            f"{stack.url}/email/decide", data={**form, "approver": "bob"}, headers=origin
        )
        assert "refused: link for another approver" in bob.text
        token = form["t"]
        altered = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
        assert (
            "refused: altered link"
            in (
                await http.post(
                    f"{stack.url}/email/decide", data={**form, "t": altered}, headers=origin
                )
            ).text
        )
        expired = LinkSigner(LINK_SECRET).link_token(
            workspace_id=WORKSPACE,
            approval_id=approval_id,
            approver="alice",
            approved=True,
            action_hash=None,
            expires_at=time.time() - 1,
        )
        assert (
            "refused: expired link"
            in (
                await http.post(
                    f"{stack.url}/email/decide", data={**form, "t": expired}, headers=origin
                )
            ).text
        )
        assert await state_of(handle) is ApprovalState.PENDING
        taken = await http.post(f"{stack.url}/email/decide", data=form, headers=origin)
        assert "taken: approved" in taken.text
        again = await http.post(f"{stack.url}/email/decide", data=form, headers=origin)
        assert "refused: link already used" in again.text
    result = await finish(handle, "channel_email_approves")
    assert (result.status, result.decided_by) == (ApprovalStatus.GRANTED, "alice")
    [granted] = [r for r in audit_records(stack.settings) if r["outcome"] == "granted"]
    assert (granted["channel"], granted["channel_user"], granted["verified"]) == (
        "email",
        "alice@example.com",
        True,
    )
    reasons = [reason for reason, _ in rejections(stack)]
    for expected in (
        "cross-origin form",
        "link for another approval",
        "link for another approver",
        "altered link (its signature does not match)",
        "expired link",
        "link already used",
    ):
        assert expected in reasons
    assert_no_secrets(stack)


async def test_reminders_and_escalations_reach_the_right_people(dev_env, deployment) -> None:
    task_queue, stack = deployment
    request = approval_request(
        requester="agent",
        approver_group="ops",
        timeout_seconds=60,
        remind_every=2,
        escalate_after=5,
        escalate_to="leads",
    )
    handle = await start(dev_env.client, task_queue, request)
    approval_id = await announce(stack, handle)
    await stack.smtp.wait_for("dave@example.com", 1, timeout=30)  # the escalation
    subjects = {
        who: [m["Subject"].split(":")[0] for m in stack.smtp.to(f"{who}@example.com")]
        for who in ("alice", "bob", "dave")
    }
    # ops' members: the request and at least one reminder; leads' member: the escalation only.
    for member in ("alice", "bob"):
        assert subjects[member][0] == "Approval requested"
        assert "Reminder" in subjects[member]
        assert "Escalated to you" not in subjects[member]
    assert subjects["dave"] == ["Escalated to you"]
    assert not stack.smtp.to("agent@example.com")  # never the requester
    await shows(stack, approval_id, "escalated to leads")
    assert len(stack.slack.state.in_channel(OPS_CHANNEL)) == 1  # the group's channel, one message
    assert (await stack.click(approval_id, "deny", "U0BOB")).json()["text"] == "taken: denied"
    result = await finish(handle, "channel_remind_escalate")
    assert result.status is ApprovalStatus.DENIED
    await shows(stack, approval_id, "Denied by bob")
    notices = [r["notice"] for r in audit_records(stack.settings) if r["event_type"] == "notify"]
    assert notices[0] == "requested" and "reminded" in notices and "escalated" in notices
    assert notices[-1] == "decided"
    history = (await handle.fetch_history()).to_json()
    for secret in SECRETS:
        assert secret not in history


async def test_timeout_and_cancellation_show_on_the_message(dev_env, deployment) -> None:
    task_queue, stack = deployment
    timing_out = await start(dev_env.client, task_queue, approval_request(timeout_seconds=2))
    cancelled = await start(dev_env.client, task_queue, approval_request(timeout_seconds=60))
    first, second = await announce(stack, timing_out), await announce(stack, cancelled)
    await cancelled.cancel()
    assert (await finish(timing_out, "channel_timeout")).status is ApprovalStatus.TIMEOUT
    with pytest.raises(WorkflowFailureError):  # cancelled
        await finish(cancelled, "channel_cancelled")
    await shows(stack, first, "Timed out")
    await shows(stack, second, "Cancelled")
    assert len(stack.slack.state.in_channel(CHANNEL)) == 2


async def test_a_slack_outage_never_holds_up_the_approval(dev_env, deployment) -> None:
    task_queue, stack = deployment
    stack.slack.state.token = "xoxb-revoked"  # every Slack call now fails: invalid_auth
    handle = await start(dev_env.client, task_queue, approval_request(requester="agent"))
    approval_id = await wait_pending(handle)
    [mail] = await stack.smtp.wait_for("alice@example.com")  # email still goes out
    approve_url = next(
        line.split(" ", 1)[1].strip()
        for line in mail.get_content().splitlines()
        if line.startswith("Approve:")
    )
    form = {"t": link_parts(approve_url)["t"], "approval": approval_id, "approver": "alice"}
    async with httpx.AsyncClient(timeout=30) as http:
        taken = await http.post(
            f"{stack.url}/email/decide", data=form, headers={"Origin": stack.url}
        )
    assert "taken: approved" in taken.text
    result = await finish(handle, "channel_slack_down")
    assert (result.status, result.decided_by) == (ApprovalStatus.GRANTED, "alice")
    failed = [r for r in audit_records(stack.settings) if r["outcome"] == "notify-failed"]
    assert [r["notice"] for r in failed] == ["requested", "decided"]
    assert all("invalid_auth" in r["error"] for r in failed)
    assert not stack.slack.state.messages
    assert_no_secrets(stack)


async def test_approve_with_edits_from_a_slack_modal(dev_env, deployment) -> None:
    task_queue, stack = deployment
    request = approval_request(requester="agent", args={"db": "staging", "rows": 10})
    handle = await start(dev_env.client, task_queue, request)
    approval_id = await announce(stack, handle)
    assert buttons(stack.message_of(approval_id)) == ["approve", "deny", "approve_edits"]
    opened = await stack.click(approval_id, "approve_edits", "U0ALICE")
    assert opened.json()["text"] == "edit the args"
    [modal] = stack.slack.state.views
    shown = modal["view"]["blocks"][0]["element"]["initial_value"]
    assert json.loads(shown) == {"db": "staging", "rows": 10}
    interactivity = stack.slack.state.interactivity_url
    async with httpx.AsyncClient(timeout=30) as http:
        bad = form_body(view_submission(modal["view"], "U0ALICE", "[not an object"))
        refused = await http.post(
            interactivity, content=bad, headers=stack.slack.state.signed_headers(bad)
        )
        assert refused.json()["text"] == "refused: malformed request"
        edited = form_body(
            view_submission(modal["view"], "U0ALICE", '{"db": "staging", "rows": 5}')
        )
        answer = await http.post(
            interactivity, content=edited, headers=stack.slack.state.signed_headers(edited)
        )
    assert answer.json() == {"response_action": "clear", "text": "taken: approved"}
    result = await finish(handle, "channel_slack_edits")
    assert (result.status, result.decided_by, result.edited) == (
        ApprovalStatus.GRANTED,
        "alice",
        True,
    )
    assert result.args == {"db": "staging", "rows": 5}
    assert result.covers(request.action, {"db": "staging", "rows": 5})
    assert stack.slack.state.ephemeral[-1] == {
        "channel": CHANNEL,
        "user": "U0ALICE",
        "text": "taken: approved",
    }


@pytest.mark.reference_only(
    "the crash is between Slack and Temporal: the platform's mode changes nothing there, and "
    "the click's path in each mode is test_a_mapped_approvers_click_approves_verified's"
)
async def test_a_worker_killed_after_telling_slack_leaves_one_message(
    dev_env, settings, tmp_path
) -> None:
    """SIGKILL as the notify activity returns (Slack has the message, Temporal does not know):
    another worker's retry updates that message instead of posting a second one."""
    task_queue = f"tq-{uuid.uuid4()}"
    deployed = settings.model_copy(update={"temporal_task_queue": task_queue})
    async for stack in open_channel_stack(dev_env.client, deployed, require_verified=True):
        crashing = spawn_worker(
            dev_env.client,
            deployed,
            task_queue,
            tmp_path / "crashing.log",
            module="tests.crashing_worker",
            CRASH_AT="notify:after",
            CRASH_JITTER="0",
        )
        worker = None
        try:
            handle = await start(dev_env.client, task_queue, approval_request(requester="agent"))
            assert await asyncio.to_thread(crashing.wait, 90) == -signal.SIGKILL
            assert len(stack.slack.state.messages) == 1  # posted by the dead worker
            worker = spawn_worker(dev_env.client, deployed, task_queue, tmp_path / "worker.log")
            approval_id = await announce(stack, handle)
            message = stack.message_of(approval_id)

            async def updated(message: Any = message) -> bool:
                return bool(message.updates >= 1)

            await eventually(updated, timeout=60)  # the retry found it
            answer = await stack.click(approval_id, "approve", "U0ALICE")
            assert answer.json()["text"] == "taken: approved"
            result = await finish(handle, "channel_worker_killed", timeout=60)
            await shows(stack, approval_id, "Approved by alice")
        finally:
            for process in (crashing, worker):
                if process is not None and process.poll() is None:
                    process.terminate()
                    await asyncio.to_thread(process.wait, 30)
        assert (result.status, result.decided_by) == (ApprovalStatus.GRANTED, "alice")
        assert len(stack.slack.state.messages) == 1
        notices = [r["notice"] for r in audit_records(deployed) if r["event_type"] == "notify"]
        assert notices == ["requested", "decided"]
