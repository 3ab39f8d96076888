"""Notify activity: tell the workspace's channels (Slack, email) about one approval's moment.

Best effort by design (docs/channels.md): it never raises, so it can neither fail nor hold
up the approval; it retries a few times itself and reports what happened (the workflow
audits ``notified`` or ``notify-failed``). Idempotent: one Slack message per approval and
destination, one email per recipient and moment, across retries and worker crashes.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from durable_approvals.activities.rbac_policy import load_policy
from durable_approvals.activities.workspace import require_served_workspace
from durable_approvals.channels.config import ChannelsConfig, load_channels
from durable_approvals.channels.email import EmailNotifier
from durable_approvals.channels.keys import LinkSigner
from durable_approvals.channels.notice import ApprovalNotice, NoticeEvent
from durable_approvals.channels.store import ChannelStore
from durable_approvals.identity import same_identity
from durable_approvals.redaction import redact_text
from durable_approvals.settings import Settings

logger = logging.getLogger(__name__)

ATTEMPTS = 3
BACKOFF_SECONDS = 1.0
HEARTBEAT_SECONDS = 2.0
"""While it works it heartbeats: a worker that dies is noticed within the heartbeat
timeout (workflows/notifier.py), and another worker carries on."""
MAX_ERROR_CHARS = 500


class NotifyReport(BaseModel):
    """What the channels heard: ``error`` (redacted) when something could not be told."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    configured: bool
    slack_messages: int = 0
    emails: int = 0
    error: str | None = None


def store_for(settings: Settings, channels: ChannelsConfig) -> ChannelStore:
    """The channels' store: ``channels.store_path``, else ``channels.db`` beside the config."""
    return ChannelStore(channels.store_path or settings.rbac_config_path.parent / "channels.db")


def recipients(notice: ApprovalNotice, channels: ChannelsConfig, config_path: Path) -> list[str]:
    """Who hears of ``notice`` by email or DM: an escalation's target (a group's members, or
    the person), else the request's group's members, else every approver in the registry;
    never the requester."""
    groups = load_policy(config_path).approver_groups
    if notice.recipients:
        names = list(notice.recipients)
    elif notice.event is NoticeEvent.ESCALATED and notice.escalated_to:
        names = list(groups.get(notice.escalated_to, (notice.escalated_to,)))
    elif notice.approver_group is not None:
        names = list(groups.get(notice.approver_group, ()))
    else:
        names = list(channels.approvers)
    return [name for name in names if not same_identity(name, notice.requester)]


async def _heartbeat() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(HEARTBEAT_SECONDS)


class NotifyActivities:
    """Reads the workspace's ``channels:`` config on every call, like the RBAC check."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @activity.defn
    async def notify(self, notice: ApprovalNotice) -> NotifyReport:
        """Tell every configured channel; never raises (the report carries the error)."""
        require_served_workspace(self._settings, notice.workspace_id)
        beating = asyncio.create_task(_heartbeat()) if activity.in_activity() else None
        try:
            return await self._attempts(notice)
        finally:
            if beating is not None:
                beating.cancel()

    async def _attempts(self, notice: ApprovalNotice) -> NotifyReport:
        error = "no attempt"
        for attempt in range(ATTEMPTS):
            try:
                return await self._notify_once(notice)
            except Exception as failure:  # best effort: reported, never raised
                error = redact_text(str(failure))[:MAX_ERROR_CHARS]
                logger.warning(
                    "notify %s (%s), attempt %d: %s",
                    notice.approval_id,
                    notice.event,
                    attempt + 1,
                    error,
                )
            if attempt + 1 < ATTEMPTS:
                await asyncio.sleep(BACKOFF_SECONDS * (attempt + 1))
        return NotifyReport(configured=True, error=error)

    async def _notify_once(self, notice: ApprovalNotice) -> NotifyReport:
        path = self._settings.rbac_config_path
        channels = await asyncio.to_thread(load_channels, path)
        if channels is None or (channels.slack is None and channels.email is None):
            return NotifyReport(configured=False)
        store = await asyncio.to_thread(store_for, self._settings, channels)
        names = await asyncio.to_thread(recipients, notice, channels, path)
        notice = notice.model_copy(update={"recipients": names})
        problems: list[str] = []
        posted = mailed = 0
        if channels.slack is not None:
            from durable_approvals.channels.slack import SlackNotifier, web_client  # [channels]

            client = web_client(channels.slack)
            try:
                posted = len(await SlackNotifier(channels, store, client).publish(notice))
            except Exception as failure:  # email still goes out
                problems.append(f"slack: {failure.__class__.__name__}: {failure}")
        if channels.email is not None:
            endpoint = channels.endpoint
            links = (
                LinkSigner(endpoint.link_secret.read("channels.endpoint.link_secret"))
                if endpoint is not None
                else None
            )
            try:
                mailed = await EmailNotifier(channels, store, links).send(notice)
            except Exception as failure:  # reported with Slack's, if any
                problems.append(f"email: {failure.__class__.__name__}: {failure}")
        if problems:
            raise RuntimeError("; ".join(problems))
        return NotifyReport(configured=True, slack_messages=posted, emails=mailed)


__all__ = ["NotifyActivities", "NotifyReport", "recipients", "store_for"]
