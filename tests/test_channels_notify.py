"""The notify activity against the Slack stand-in (real HTTP, the Slack SDK) and a real SMTP
server (aiosmtpd): one message per approval updated in place, emails with links, best
effort that never raises, secrets kept out of what it reports and logs."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from durable_approvals.activities.notify import NotifyActivities
from durable_approvals.channels.notice import ApprovalNotice, NoticeEvent
from durable_approvals.channels.store import ChannelStore
from durable_approvals.devstack.slack_standin import SlackStandinServer
from durable_approvals.settings import Settings
from tests.channels_kit import (
    CHANNEL,
    EMAILS,
    OPS_CHANNEL,
    SECRETS,
    SmtpServer,
    buttons,
    standin_state,
    write_channel_config,
)

WS = "ws-notify"
NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandinServer]:
    async with SlackStandinServer(standin_state()) as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def notice(event: NoticeEvent, **fields: object) -> ApprovalNotice:
    base: dict[str, object] = {
        "workspace_id": WS,
        "approval_id": "appr-1",
        "event": event,
        "at": NOW,
        "action": "Drop the staging database",
        "reason": "Rebuilt nightly",
        "requester": "agent",
        "deadline": NOW + timedelta(minutes=5),
    }
    base.update(fields)
    return ApprovalNotice.model_validate(base)


def activities(tmp_path: Path, config: Path) -> NotifyActivities:
    return NotifyActivities(
        Settings(workspace_id=WS, rbac_config_path=config, audit_log_path=tmp_path / "audit")
    )


async def test_one_message_updated_in_place_and_emails_with_links(
    tmp_path: Path, slack: SlackStandinServer, smtp: SmtpServer
) -> None:
    config = write_channel_config(
        tmp_path / "cfg", slack_base_url=slack.base_url, smtp_port=smtp.port
    )
    notify = activities(tmp_path, config)
    report = await notify.notify(notice(NoticeEvent.REQUESTED))
    assert report.error is None and report.slack_messages == 1
    # Every approver in the registry but the requester hears of it by email.
    assert report.emails == len(EMAILS)
    assert not smtp.to("agent@example.com")
    [message] = slack.state.in_channel(CHANNEL)
    assert buttons(message) == ["approve", "deny"]
    assert "5m 00s left" in message.text
    # A retry of the same notice: no second message, no second email.
    again = await notify.notify(notice(NoticeEvent.REQUESTED))
    assert again.emails == 0 and len(slack.state.in_channel(CHANNEL)) == 1
    # A vote, then the outcome: the same message, updated; no email for those.
    await notify.notify(notice(NoticeEvent.VOTED, approvers=["alice"], approvals_required=2))
    assert "1 of 2: alice" in message.text
    done = await notify.notify(
        notice(NoticeEvent.DECIDED, outcome="granted", approvers=["alice", "bob"])
    )
    assert done.emails == 0 and len(slack.state.in_channel(CHANNEL)) == 1
    assert "Approved by alice, bob" in message.text and message.updates == 3
    assert buttons(message) == []  # no buttons once ended
    [mail] = smtp.to("alice@example.com")
    body = mail.get_content()
    assert "Approve: http://127.0.0.1:9/email/confirm?t=" in body and "Deny:" in body
    approve = next(line for line in body.splitlines() if line.startswith("Approve: "))
    assert approve in mail.as_string().splitlines()  # whole on the wire (no folding)
    assert (tmp_path / "cfg" / "channels.db").stat().st_mode & 0o777 == 0o600


async def test_group_channel_args_button_and_escalation_recipients(
    tmp_path: Path, slack: SlackStandinServer, smtp: SmtpServer
) -> None:
    config = write_channel_config(
        tmp_path / "cfg",
        slack_base_url=slack.base_url,
        smtp_port=smtp.port,
        groups={"ops": ["alice", "bob"], "leads": ["dave"]},
    )
    notify = activities(tmp_path, config)
    request = notice(
        NoticeEvent.REQUESTED, approver_group="ops", args={"db": "staging"}, action_hash="a" * 64
    )
    assert (await notify.notify(request)).emails == 2  # ops' members with an address
    [message] = slack.state.in_channel(OPS_CHANNEL)
    assert buttons(message) == ["approve", "deny", "approve_edits"]
    assert not slack.state.in_channel(CHANNEL)
    reminder = request.model_copy(update={"event": NoticeEvent.REMINDED, "sequence": 1})
    assert (await notify.notify(reminder)).emails == 2
    escalated = request.model_copy(
        update={"event": NoticeEvent.ESCALATED, "sequence": 1, "escalated_to": "leads"}
    )
    assert (await notify.notify(escalated)).emails == 1
    assert [m["Subject"] for m in smtp.to("dave@example.com")] == [
        "Escalated to you: approval waiting: Drop the staging database"
    ]
    assert len(smtp.to("alice@example.com")) == 2  # the request and the reminder
    assert "escalated to leads" in message.text


async def test_failures_are_reported_never_raised_and_never_leak_secrets(
    tmp_path: Path, slack: SlackStandinServer, caplog: pytest.LogCaptureFixture, monkeypatch
) -> None:
    monkeypatch.setattr("durable_approvals.activities.notify.BACKOFF_SECONDS", 0.01)
    config = write_channel_config(tmp_path / "cfg", slack_base_url=slack.base_url, smtp_port=1)
    notify = activities(tmp_path, config)
    caplog.set_level(logging.DEBUG)
    report = await notify.notify(notice(NoticeEvent.REQUESTED))
    assert report.error is not None and "ConnectionRefusedError" in report.error
    # Slack was told once despite the three attempts (the email part failed each time).
    assert len(slack.state.in_channel(CHANNEL)) == 1
    for secret in SECRETS:
        assert secret not in report.error and secret not in caplog.text
    # A bot token Slack does not know: reported, not raised.
    slack.state.token = "xoxb-another"
    failed = await notify.notify(notice(NoticeEvent.REQUESTED, approval_id="appr-2"))
    assert failed.error is not None and "invalid_auth" in failed.error


async def test_without_channels_nothing_happens(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("rbac: {roles: [operator]}\n")
    report = await activities(tmp_path, config).notify(notice(NoticeEvent.REQUESTED))
    assert not report.configured and report.error is None


async def test_a_notifier_killed_between_posting_and_recording_leaves_one_message(
    tmp_path: Path, slack: SlackStandinServer
) -> None:
    config = write_channel_config(tmp_path / "cfg", slack_base_url=slack.base_url, smtp_port=None)
    request = notice(NoticeEvent.REQUESTED)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.crashing_notifier", str(config), request.model_dump_json()
    )
    assert await process.wait() == -signal.SIGKILL
    assert len(slack.state.in_channel(CHANNEL)) == 1  # posted, and nothing recorded it
    assert (
        ChannelStore(tmp_path / "cfg" / "channels.db").slack_message(f"{WS}/appr-1@{CHANNEL}")
        is None
    )
    # The retry (another worker) finds the message by its metadata and updates it.
    report = await activities(tmp_path, config).notify(request)
    assert report.error is None
    [message] = slack.state.in_channel(CHANNEL)
    assert message.updates == 1
    await activities(tmp_path, config).notify(notice(NoticeEvent.TIMED_OUT))
    assert len(slack.state.in_channel(CHANNEL)) == 1 and "Timed out" in message.text


async def test_non_ascii_requests_are_mailed_with_whole_links(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    config = write_channel_config(tmp_path / "cfg", slack_base_url=None, smtp_port=smtp.port)
    report = await activities(tmp_path, config).notify(
        notice(NoticeEvent.REQUESTED, action="Déployer la base — prod", reason="naïve")
    )
    assert report.error is None and report.emails == len(EMAILS)
    [mail] = smtp.to("bob@example.com")
    assert mail["Subject"] == "Approval requested: Déployer la base — prod"
    body = mail.get_content()
    approve = next(line for line in body.splitlines() if line.startswith("Approve: "))
    assert "Action: Déployer la base — prod" in body and len(approve) > 200
