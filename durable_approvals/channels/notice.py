"""What the workflow tells the channels about one approval, and how each channel says it
(docs/channels.md, "What each message shows"). Pure: no I/O."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_SHOWN_ARGS_CHARS = 2_500
APPROVE = "approve"
DENY = "deny"
APPROVE_EDITS = "approve_edits"
"""The Slack buttons' ``action_id``s."""


class NoticeEvent(StrEnum):
    """The approval's moment a notice is about."""

    REQUESTED = "requested"
    REMINDED = "reminded"
    ESCALATED = "escalated"
    VOTED = "voted"
    DECIDED = "decided"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        return self in (NoticeEvent.DECIDED, NoticeEvent.TIMED_OUT, NoticeEvent.CANCELLED)

    @property
    def mailed(self) -> bool:
        """Email goes out for these; every event updates the Slack message."""
        return self in (NoticeEvent.REQUESTED, NoticeEvent.REMINDED, NoticeEvent.ESCALATED)


class ApprovalNotice(BaseModel):
    """One notice: the approval as it stands at ``at`` (workflow time)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workspace_id: str
    approval_id: str
    event: NoticeEvent
    sequence: int = Field(default=0, ge=0)
    """Which reminder or escalation this is (0 for the others): one email each."""
    at: datetime
    action: str
    reason: str = ""
    requester: str = ""
    args: dict[str, Any] | None = None
    action_hash: str | None = None
    approver_group: str | None = None
    approvals_required: int = 1
    approvers: list[str] = Field(default_factory=list)
    """Whose approvals count so far (votes)."""
    deadline: datetime | None = None
    outcome: str | None = None
    """granted, denied, timeout, cancelled (an ended approval)."""
    decided_by: str | None = None
    escalated_to: str | None = None
    recipients: list[str] = Field(default_factory=list)
    """Who should hear of it by email or DM: the group's members, or at an escalation
    the escalation target's members."""


def time_left(notice: ApprovalNotice) -> str | None:
    """``4m 30s``-style time until the deadline, as of the notice; ``None`` when ended."""
    if notice.deadline is None or notice.event.ended:
        return None
    seconds = max(0, int((notice.deadline - notice.at).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def status_line(notice: ApprovalNotice) -> str:
    """The one line that changes as the approval goes: votes, time left, the outcome."""
    if notice.event is NoticeEvent.DECIDED:
        verb = "Approved" if notice.outcome == "granted" else "Denied"
        who = ", ".join(notice.approvers) if notice.approvers else (notice.decided_by or "?")
        return f"{verb} by {who}"
    if notice.event is NoticeEvent.TIMED_OUT:
        return "Timed out: nobody decided in time"
    if notice.event is NoticeEvent.CANCELLED:
        return "Cancelled"
    parts = []
    if notice.approvals_required > 1 or notice.approver_group is not None:
        voters = ", ".join(notice.approvers)
        parts.append(
            f"{len(notice.approvers)} of {notice.approvals_required}"
            + (f": {voters}" if voters else "")
        )
    if notice.escalated_to:
        parts.append(f"escalated to {notice.escalated_to}")
    left = time_left(notice)
    if left is not None:
        parts.append(f"{left} left")
    return "Waiting" + (" · " + " · ".join(parts) if parts else "")


def shown_args(args: dict[str, Any] | None) -> str | None:
    if args is None:
        return None
    text = json.dumps(args, indent=2, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= MAX_SHOWN_ARGS_CHARS else text[:MAX_SHOWN_ARGS_CHARS] + "\n…"


def button_value(notice: ApprovalNotice) -> str:
    """What each button carries back: the approval and the hash it was shown with."""
    return json.dumps({"a": notice.approval_id, "h": notice.action_hash}, separators=(",", ":"))


def summary(notice: ApprovalNotice) -> str:
    """The plain-text fallback (notifications, screen readers)."""
    return f"Approval {notice.approval_id}: {notice.action} — {status_line(notice)}"


def _escape(text: str) -> str:
    """Slack's mrkdwn escaping: ``&``, ``<`` and ``>`` (no mentions or links sneak in)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_blocks(notice: ApprovalNotice) -> list[dict[str, Any]]:
    """The message's Block Kit blocks: the request, the status, the buttons while open."""
    lines = [f"*{_escape(notice.action)}*"]
    if notice.reason:
        lines.append(_escape(notice.reason))
    who = f"Asked by {_escape(notice.requester)}" if notice.requester else "Asked by an agent"
    if notice.approver_group:
        who += f" · approvers: {_escape(notice.approver_group)}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": who}]},
    ]
    args = shown_args(notice.args)
    if args is not None:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"```{_escape(args)}```"}}
        )
    blocks.append(
        {
            "type": "section",
            "block_id": "status",
            "text": {"type": "mrkdwn", "text": _escape(status_line(notice))},
        }
    )
    if not notice.event.ended:
        value = button_value(notice)
        buttons: list[dict[str, Any]] = [
            _button("Approve", APPROVE, value, "primary"),
            _button("Deny", DENY, value, "danger"),
        ]
        if notice.args is not None:
            buttons.append(_button("Approve with edits", APPROVE_EDITS, value, None))
        blocks.append({"type": "actions", "block_id": "decide", "elements": buttons})
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"approval `{notice.approval_id}`"}],
        }
    )
    return blocks


def _button(label: str, action_id: str, value: str, style: str | None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }
    if style is not None:
        button["style"] = style
    return button


def message_metadata(notice: ApprovalNotice) -> dict[str, Any]:
    """Slack message metadata naming the approval: how a retry finds the message it posted
    before a crash (``conversations.history``)."""
    return {
        "event_type": "durable_approval",
        "event_payload": {"workspace_id": notice.workspace_id, "approval_id": notice.approval_id},
    }


def email_subject(notice: ApprovalNotice) -> str:
    prefix = {
        NoticeEvent.REQUESTED: "Approval requested",
        NoticeEvent.REMINDED: "Reminder: approval waiting",
        NoticeEvent.ESCALATED: "Escalated to you: approval waiting",
    }.get(notice.event, "Approval")
    action = notice.action if len(notice.action) <= 120 else notice.action[:119] + "…"
    return f"{prefix}: {action}".replace("\r", " ").replace("\n", " ")


def email_text(notice: ApprovalNotice, approve_url: str, deny_url: str) -> str:
    """The plain-text email for one recipient, with their own links."""
    lines = [
        f"{email_subject(notice)}",
        "",
        f"Action: {notice.action}",
    ]
    if notice.reason:
        lines.append(f"Reason: {notice.reason}")
    if notice.requester:
        lines.append(f"Asked by: {notice.requester}")
    args = shown_args(notice.args)
    if args is not None:
        lines += ["Args:", args]
    lines += [
        f"Status: {status_line(notice).replace(' · ', ', ')}",
        "",
        f"Approve: {approve_url}",
        f"Deny:    {deny_url}",
        "",
        "Each link opens a confirmation page; nothing is decided until you confirm there.",
        f"Approval {notice.approval_id}",
    ]
    return "\n".join(lines) + "\n"


__all__ = [
    "APPROVE",
    "APPROVE_EDITS",
    "DENY",
    "ApprovalNotice",
    "NoticeEvent",
    "button_value",
    "email_subject",
    "email_text",
    "message_metadata",
    "slack_blocks",
    "status_line",
    "summary",
    "time_left",
]
