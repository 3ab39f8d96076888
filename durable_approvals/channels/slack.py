"""Posts and updates an approval's Slack message with the Slack SDK's Web API client.

One message per approval and destination, across retries and crashes: the message's
``ts`` is remembered in the store, and when it is not there (a crash after posting, a
store lost) the destination's history is searched for the message's metadata before
anything is posted.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_sdk import WebClient

from durable_approvals.channels.config import ChannelsConfig, SlackConfig
from durable_approvals.channels.notice import (
    ApprovalNotice,
    message_metadata,
    slack_blocks,
    summary,
)
from durable_approvals.channels.store import ChannelStore, SlackMessage

SLACK_TIMEOUT_SECONDS = 10
HISTORY_LIMIT = 100


def web_client(slack: SlackConfig) -> WebClient:
    """The SDK's client for ``slack`` (its token read now; no SDK retries: ours are bounded)."""
    return WebClient(
        token=slack.bot_token.read("channels.slack.bot_token"),
        base_url=slack.base_url,
        timeout=SLACK_TIMEOUT_SECONDS,
        retry_handlers=[],
    )


class SlackNotifier:
    """Keeps each approval's Slack messages up to date."""

    def __init__(self, channels: ChannelsConfig, store: ChannelStore, client: WebClient) -> None:
        if channels.slack is None:
            raise ValueError("no Slack configured")
        self._slack = channels.slack
        self._channels = channels
        self._store = store
        self._client = client

    def destinations(self, notice: ApprovalNotice) -> list[tuple[str, str | None]]:
        """``(channel, user)`` pairs: the group's or workspace's channel (user ``None``),
        and with direct messages each recipient with a Slack id (channel ``None`` yet)."""
        found: list[tuple[str, str | None]] = []
        channel = self._slack.group_channels.get(notice.approver_group or "", self._slack.channel)
        if channel is not None:
            found.append((channel, None))
        if self._slack.direct_messages:
            for name in notice.recipients:
                contact = self._channels.contact(name)
                if contact is not None and contact.slack is not None:
                    found.append(("", contact.slack))
        return found

    async def publish(self, notice: ApprovalNotice) -> list[SlackMessage]:
        """Post or update the approval's message at every destination.

        Raises:
            slack_sdk.errors.SlackApiError, OSError: Slack refused or was unreachable.
        """
        return [
            await asyncio.to_thread(self._publish_one, notice, channel, user)
            for channel, user in self.destinations(notice)
        ]

    def _publish_one(self, notice: ApprovalNotice, channel: str, user: str | None) -> SlackMessage:
        key = f"{notice.workspace_id}/{notice.approval_id}@{user or channel}"
        message = self._store.slack_message(key)
        if message is None:
            if user is not None:
                opened = self._client.conversations_open(users=user)
                channel = str(opened["channel"]["id"])
            message = self._find_posted(notice, channel)
            if message is not None:
                self._store.remember_slack_message(key, message)
        content: dict[str, Any] = {"text": summary(notice), "blocks": slack_blocks(notice)}
        if message is not None:
            self._client.chat_update(channel=message.channel, ts=message.ts, **content)
            return message
        posted = self._client.chat_postMessage(
            channel=channel, metadata=message_metadata(notice), **content
        )
        message = SlackMessage(str(posted["channel"]), str(posted["ts"]))
        self._store.remember_slack_message(key, message)
        return message

    def _find_posted(self, notice: ApprovalNotice, channel: str) -> SlackMessage | None:
        """The message posted for this approval before, found by its metadata."""
        wanted = message_metadata(notice)
        history = self._client.conversations_history(
            channel=channel, include_all_metadata=True, limit=HISTORY_LIMIT
        )
        for item in history.get("messages") or []:
            if isinstance(item, dict) and item.get("metadata") == wanted:
                return SlackMessage(channel, str(item["ts"]))
        return None


__all__ = ["SlackNotifier", "web_client"]
