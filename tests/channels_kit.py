"""What the channel tests share: the Slack stand-in, a real SMTP server (aiosmtpd), and a
workspace config with a ``channels:`` section pointing at both."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from durable_approvals.channels.keys import ChannelKey
from durable_approvals.devstack.slack_standin import SlackStandin

BOT_TOKEN = "xoxb-standin-bot-token-0123456789"
SIGNING_SECRET = "standin-signing-secret-0123456789abcdef"
LINK_SECRET = "standin-link-secret-0123456789abcdef"
SMTP_PASSWORD = "smtp-password-not-for-logs-42"
CHANNEL = "C0APPROVALS"
OPS_CHANNEL = "C0OPS"
SLACK_USERS = {"alice": "U0ALICE", "bob": "U0BOB", "carol": "U0CAROL", "agent": "U0AGENT"}
EMAILS = {"alice": "alice@example.com", "bob": "bob@example.com", "dave": "dave@example.com"}
SECRETS = (BOT_TOKEN, SIGNING_SECRET, LINK_SECRET, SMTP_PASSWORD)


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _check_password(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    """Only the configured password logs in: proves the notifier sends it."""
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok)


@dataclass
class SmtpServer:
    """aiosmtpd on 127.0.0.1: a real SMTP server that keeps what it receives."""

    inbox: _Inbox = field(default_factory=_Inbox)
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=_free_port(),
            authenticator=_check_password,
            auth_require_tls=False,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()

    @property
    def port(self) -> int:
        assert self.controller is not None
        port: int = self.controller.port
        return port

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.inbox.messages if m["To"] == address]

    async def wait_for(
        self, address: str, count: int = 1, timeout: float = 20.0
    ) -> list[EmailMessage]:
        async with asyncio.timeout(timeout):
            while len(self.to(address)) < count:
                await asyncio.sleep(0.05)
        return self.to(address)


def standin_state() -> SlackStandin:
    return SlackStandin(token=BOT_TOKEN, signing_secret=SIGNING_SECRET)


def write_channel_config(
    directory: Path,
    *,
    slack_base_url: str | None,
    smtp_port: int | None,
    endpoint_url: str = "http://127.0.0.1:9",
    groups: dict[str, list[str]] | None = None,
    require_verified: bool = False,
    direct_messages: bool = False,
    extra: dict[str, Any] | None = None,
) -> Path:
    """``config.yaml`` with a ``channels:`` section (secrets in 0600 files beside it);
    returns its path. The channel key is created; its public half is the trusted key."""
    directory.mkdir(parents=True, exist_ok=True)
    secrets = directory / "secrets"
    secrets.mkdir(exist_ok=True)
    for name, value in (
        ("bot-token", BOT_TOKEN),
        ("signing-secret", SIGNING_SECRET),
        ("link-secret", LINK_SECRET),
        ("smtp-password", SMTP_PASSWORD),
    ):
        (secrets / name).write_text(value + "\n")
        (secrets / name).chmod(0o600)
    key = ChannelKey.load(directory / "channel-key.pem")
    names = sorted(set(SLACK_USERS) | set(EMAILS))
    channels: dict[str, Any] = {
        "approvers": {
            name: {
                k: v
                for k, v in (("slack", SLACK_USERS.get(name)), ("email", EMAILS.get(name)))
                if v is not None
            }
            for name in names
        },
        "endpoint": {
            "public_url": endpoint_url,
            "signing_key": str(directory / "channel-key.pem"),
            "link_secret": {"file": str(secrets / "link-secret")},
        },
        "verify_key": key.public_key,
        "store_path": str(directory / "channels.db"),
    }
    if slack_base_url is not None:
        channels["slack"] = {
            "bot_token": {"file": str(secrets / "bot-token")},
            "signing_secret": {"file": str(secrets / "signing-secret")},
            "base_url": slack_base_url,
            "channel": CHANNEL,
            "group_channels": {"ops": OPS_CHANNEL},
            "direct_messages": direct_messages,
        }
    if smtp_port is not None:
        channels["email"] = {
            "host": "127.0.0.1",
            "port": smtp_port,
            "from_address": "approvals@example.com",
            "tls": "none",
            "username": "approvals",
            "password": {"file": str(secrets / "smtp-password")},
        }
    config: dict[str, Any] = {"channels": channels}
    if groups:
        config["approver_groups"] = groups
    if require_verified:
        config["require_verified_deciders"] = True
    config.update(extra or {})
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def buttons(message: Any) -> list[str]:
    """The ``action_id``s of a stand-in message's buttons."""
    return [
        e["action_id"]
        for b in message.blocks
        if b.get("type") == "actions"
        for e in b.get("elements", [])
    ]


@dataclass
class ChannelStack:
    """The Slack stand-in, an SMTP server, a ``channels:`` config and the channel endpoint,
    deciding through a real Temporal client for one deployment's settings."""

    slack: Any
    smtp: SmtpServer
    endpoint_server: Any
    endpoint: Any
    settings: Any
    config_path: Path

    @property
    def url(self) -> str:
        return str(self.endpoint_server.url)

    def message_of(self, approval_id: str) -> Any | None:
        for message in self.slack.state.messages.values():
            if (message.metadata or {}).get("event_payload", {}).get("approval_id") == approval_id:
                return message
        return None

    async def click(
        self, approval_id: str, action_id: str, user: str, *, body_of: Any = None
    ) -> Any:
        """Click a button of the approval's message as ``user``, the way Slack posts it."""
        from durable_approvals.devstack.slack_standin import click_as_slack

        message = self.message_of(approval_id)
        assert message is not None, f"no Slack message for {approval_id}"
        return await click_as_slack(self.slack.state, message, action_id, user, self.slack.url)

    def replies(self) -> list[str]:
        return [str(r.get("text")) for r in self.slack.state.responses]


def free_port() -> int:
    return _free_port()
