"""What the workflows hand to the activities and get back: one model in, one out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from durable_approvals.models import (
    DEFAULT_HEARTBEAT_SECONDS,
    DEFAULT_POLL_INTERVAL_SECONDS,
    DEFAULT_SESSION_SECONDS,
    ActionHash,
    ActionText,
    ArgsSchema,
    Decision,
    HeartbeatSeconds,
    Identifier,
    JsonArgs,
    NameText,
    PollIntervalSeconds,
    ReasonText,
    SessionSeconds,
    TimeoutSeconds,
    WebSocketMode,
    _Model,
)


class PermissionCheck(_Model):
    workspace_id: Identifier
    permission: str = "approve"
    approver_group: Identifier | None = None
    """N-of-M: also return this group's members (``PermissionVerdict.group_members``)."""


class PermissionVerdict(_Model):
    allowed: bool
    roles: list[str]
    group_members: list[str] | None = None
    """The members of ``PermissionCheck.approver_group``; ``None``: none asked, or unknown."""
    require_verified_deciders: bool = False
    """The workspace config's ``require_verified_deciders`` (docs/trust-model.md)."""
    verify_key: str | None = None
    """The platform's public key (PLATFORM_VERIFY_KEY, base64) the workflow checks proofs
    with; from the worker's settings, never from the request (the requester could forge)."""
    notify_channels: bool = False
    """The workspace config has a ``channels:`` section with Slack or email: the workflow
    notifies them (docs/channels.md); absent in older results, hence off."""
    channel_verify_key: str | None = None
    """The channel endpoint's public key (the workspace config's ``channels.verify_key``,
    base64): decisions it signs count as verified too (docs/channels.md)."""
    expire_retry_seconds: float | None = None
    """How long the expiry keeps trying while the platform does not answer (the worker's
    EXPIRE_RETRY_FOR); ``None`` (a history recorded before it) or 0: three attempts."""


class CreateApprovalInput(_Model):
    workspace_id: Identifier
    action: ActionText
    reason: ReasonText = ""
    task_id: str | None = None
    idempotency_key: Annotated[str, Field(min_length=1, max_length=300)]
    # Shown in the approvers' inbox; optional so histories recorded before they existed replay.
    requester: NameText = ""
    timeout_seconds: TimeoutSeconds | None = None
    # Sent in the contract's ``context`` (docs/policies/edits.md); absent without args.
    args: JsonArgs | None = None
    args_schema: ArgsSchema | None = None
    action_hash: ActionHash | None = None
    approvals_required: int | None = None
    """N-of-M: the platform [ext] that makes its decide route record votes; ``None``: omitted."""
    approvers: list[NameText] | None = None
    """N-of-M: the approver group's members, the only voters a platform [ext] accepts."""
    may_exist: bool = True
    """Whether an earlier attempt may have made it (search for its marker before the POST);
    ``False`` only from a workflow's first, untried workflow task (docs/internals.md)."""


class CreatedApproval(_Model):
    approval_id: Identifier


class ReadApprovalInput(_Model):
    workspace_id: Identifier
    approval_id: Identifier


class ListenerConfig(_Model):
    """The workspace listener's input: which workspace, which transport, how patient."""

    workspace_id: Identifier
    websocket: WebSocketMode = WebSocketMode.AUTO
    poll_interval_seconds: PollIntervalSeconds = DEFAULT_POLL_INTERVAL_SECONDS
    heartbeat_timeout_seconds: HeartbeatSeconds = DEFAULT_HEARTBEAT_SECONDS
    session_seconds: SessionSeconds = DEFAULT_SESSION_SECONDS


class ListenerReport(_Model):
    """What one listener session did; kept in the listener workflow's history."""

    connects: int = 0
    frames: int = 0
    signalled: int = 0
    catch_up_reads: int = 0
    poll_passes: int = 0
    unowned_events: int = 0
    unreadable: int = 0  # pending approvals beyond the newest 50 with no single-item route
    skipped_items: int = 0  # oversized or malformed items of list replies, per reply
    owners_learned: int = 0  # approval → workflow taken from APPROVAL_REQUESTED events
    owner_lookups: int = 0  # owner look-ups in visibility (decisions whose owner was unknown)


class ExpireApprovalInput(_Model):
    workspace_id: Identifier
    approval_id: Identifier
    reason: ReasonText


class RecordDecisionInput(_Model):
    """A decision the workflow took from a client, to be written to the platform too."""

    workspace_id: Identifier
    decision: Decision
    final: bool = False
    """N-of-M: the request's outcome after votes; closes a reference platform's vote item."""


class ExpireOutcome(_Model):
    """``decision`` is set when the platform had recorded a decision before the expiry."""

    expired: bool
    decision: Decision | None = None


class RemindApprovalInput(_Model):
    """A reminder to show on the platform ([ext] route; docs/policies/escalation.md)."""

    workspace_id: Identifier
    approval_id: Identifier
    reminder: Annotated[int, Field(ge=1)]
    """The reminder's period number: repeating one shows nothing new."""
    escalated_to: Identifier | None = None


class EscalateApprovalInput(_Model):
    """An escalation to show on the platform ([ext] route; docs/policies/escalation.md)."""

    workspace_id: Identifier
    approval_id: Identifier
    escalated_to: Identifier
    level: Annotated[int, Field(ge=1)]
    """1 for the first escalation, 2 for the second: repeating one shows nothing new."""
    expires_at: datetime | None = None
