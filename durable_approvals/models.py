"""The data that crosses Temporal: workflow input, decisions, activity I/O, result.

Every model is validated where it is built and again where a worker decodes it.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeGuard

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    model_validator,
)

from durable_approvals.action_hash import HASH_PATTERN, ArgsError, action_hash, check_json_args
from durable_approvals.binding import check_schema, schema_problem

MAX_ACTION_CHARS = 500
MAX_REASON_CHARS = 4_000
MAX_NAME_CHARS = 200  # requester, decided_by
MAX_CHANNEL_USER_CHARS = 320  # a Slack user id or an email address
MAX_TIMEOUT_SECONDS = 30 * 24 * 3600  # a month: longer waits are a mistake, not a need
MIN_POLL_INTERVAL_SECONDS = 0.05
MAX_POLL_INTERVAL_SECONDS = 3_600.0
DEFAULT_TIMEOUT_SECONDS = 300.0
DEFAULT_POLL_INTERVAL_SECONDS = 5.0
DEFAULT_HEARTBEAT_SECONDS = 30.0
DEFAULT_SESSION_SECONDS = 3_600.0

TimeoutSeconds = Annotated[float, Field(gt=0, le=MAX_TIMEOUT_SECONDS)]
"""How long an approval may wait for its decision."""
PollIntervalSeconds = Annotated[
    float, Field(ge=MIN_POLL_INTERVAL_SECONDS, le=MAX_POLL_INTERVAL_SECONDS)
]
"""Seconds between the workspace listener's poll passes."""
HeartbeatSeconds = Annotated[float, Field(ge=1.0, le=600.0)]
"""The listener's heartbeat timeout: how soon another worker takes over a dead one's."""
SessionSeconds = Annotated[float, Field(ge=1.0, le=86_400.0)]
"""How long one listener session runs before its workflow continues as new."""

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
_ID = re.compile(ID_PATTERN)

# C0/C1 control characters other than tab, newline and carriage return.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# In a name, tab and line breaks too: a name is one line.
NAME_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _no_control_chars(value: str) -> str:
    if CONTROL_CHARS.search(value):
        raise ValueError("must not contain control characters")
    return value


def _one_line_name(value: str) -> str:
    if NAME_CONTROL_CHARS.search(value):
        raise ValueError("must be one line without control characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or whitespace")
    return value


Identifier = Annotated[str, Field(pattern=ID_PATTERN)]
"""Workspace ids, approval ids, idempotency keys: safe in a URL path and a workflow id."""


def is_identifier(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a valid ``Identifier``."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def require_identifier(value: str, what: str) -> str:
    """``value``, checked to be an ``Identifier`` before it goes into a URL path.

    Raises:
        ValueError: it is not; the message names ``what``.
    """
    if not is_identifier(value):
        raise ValueError(
            f"invalid {what} {value[:80]!r}: 1-128 letters, digits and . _ : -, "
            "starting with a letter or digit"
        )
    return value


def approval_workflow_id(workspace_id: str, key: str) -> str:
    """The approval workflow's id for ``key`` in ``workspace_id``: ``approval-{ws}-{key}``."""
    return f"approval-{workspace_id}-{key}"


ActionText = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ACTION_CHARS),
    AfterValidator(_not_blank),
    AfterValidator(_no_control_chars),
]
ReasonText = Annotated[str, Field(max_length=MAX_REASON_CHARS), AfterValidator(_no_control_chars)]
"""A reason or a decision comment."""
NameText = Annotated[str, Field(max_length=MAX_NAME_CHARS), AfterValidator(_one_line_name)]
"""Who asks or decides, as typed by a person: one line."""

# --- structured args and the action hash (docs/policies/edits.md) ---
JsonArgs = Annotated[dict[str, Any], AfterValidator(check_json_args)]
"""Structured arguments: a JSON object, at most 16 KiB encoded and 10 levels deep."""
ArgsSchema = Annotated[dict[str, Any], AfterValidator(check_schema)]
"""A JSON Schema in the subset approvals.binding supports."""
ActionHash = Annotated[str, Field(pattern=HASH_PATTERN)]
"""approvals.action_hash.action_hash(): 64 lowercase hex digits."""


MAX_APPROVALS_REQUIRED = 50
ApprovalsRequired = Annotated[int, Field(ge=1, le=MAX_APPROVALS_REQUIRED, strict=True)]
"""How many approvals from distinct deciders a request needs (docs/policies/n-of-m.md)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebSocketMode(StrEnum):
    """APPROVAL_USE_WEBSOCKET: ``auto`` uses the socket and falls back to polling."""

    AUTO = "auto"
    TRUE = "true"
    FALSE = "false"


class ApprovalStatus(StrEnum):
    """How an approval ended (the result's ``status``)."""

    GRANTED = "granted"
    DENIED = "denied"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    FAILURE = "failure"
    RBAC_DENIED = "rbac_denied"


class DecisionSource(StrEnum):
    """Which path delivered a decision; kept for the audit trail and debugging."""

    WEBSOCKET = "websocket"
    POLLING = "polling"
    CATCH_UP = "catch_up"
    READ = "read"  # the workflow's own read, once it is findable by the listener
    EXPIRY = "expiry"
    CLIENT = "client"


# --- escalation and reminders: the request's policy fields ---------------------------

MIN_POLICY_SECONDS = 1.0
MAX_REMINDERS = 1_000
"""At most this many reminders in one request's whole wait (each adds history events)."""

PolicySeconds = Annotated[float, Field(ge=MIN_POLICY_SECONDS, le=MAX_TIMEOUT_SECONDS)]
"""A reminder period, an escalation delay or a second deadline, in seconds."""


class OnTimeout(StrEnum):
    """What the deadline does: ``deny`` (time out, today's behaviour) or ``escalate``
    once more and wait ``escalation_timeout`` seconds longer."""

    DENY = "deny"
    ESCALATE = "escalate"


def check_escalation_policy(request: ApprovalRequest) -> None:
    """The policy fields' rules across fields (docs/policies/escalation.md).

    Raises:
        ValueError: the first rule broken, naming the field.
    """
    timeout = request.timeout_seconds
    escalates = request.escalate_after is not None or request.on_timeout is OnTimeout.ESCALATE
    if request.remind_every is not None:
        if request.remind_every >= timeout:
            raise ValueError("remind_every must be shorter than timeout_seconds")
        if request.total_timeout_seconds / request.remind_every > MAX_REMINDERS:
            raise ValueError(f"remind_every is too short: more than {MAX_REMINDERS} reminders")
    if request.escalate_after is not None and request.escalate_after >= timeout:
        raise ValueError("escalate_after must be shorter than timeout_seconds")
    if escalates and request.escalate_to is None:
        raise ValueError("escalate_to is required with escalate_after or on_timeout=escalate")
    if request.escalate_to is not None and not escalates:
        raise ValueError("escalate_to is set but nothing escalates (escalate_after, on_timeout)")
    if request.escalation_timeout is not None and request.on_timeout is not OnTimeout.ESCALATE:
        raise ValueError("escalation_timeout needs on_timeout=escalate")
    if request.total_timeout_seconds > MAX_TIMEOUT_SECONDS:
        raise ValueError("timeout_seconds plus escalation_timeout is longer than a month")


class ApprovalRequest(_Model):
    """The workflow's input: what the agent asks for and how long it will wait."""

    workspace_id: Identifier
    action: ActionText
    reason: ReasonText = ""
    timeout_seconds: TimeoutSeconds = DEFAULT_TIMEOUT_SECONDS
    requester: NameText = ""
    idempotency_key: Identifier | None = None
    trace_id: Identifier | None = None
    task_id: Identifier | None = None
    # Structured args (docs/policies/edits.md): the hash binds decisions to them.
    args: JsonArgs | None = None
    args_schema: ArgsSchema | None = None

    @model_validator(mode="after")
    def _args_fit_schema(self) -> ApprovalRequest:
        if self.args_schema is not None:
            if self.args is None:
                raise ValueError("args_schema needs args")
            problem = schema_problem(self.args_schema, self.args)
            if problem:
                raise ValueError(f"args do not satisfy args_schema: {problem}")
        return self

    def action_hash(self) -> str:
        """The hash of (workspace_id, action, args) that an approval of it must name."""
        return action_hash(self.workspace_id, self.action, self.args)

    # --- escalation and reminders (docs/policies/escalation.md): unset, today's one timer
    remind_every: PolicySeconds | None = None
    escalate_after: PolicySeconds | None = None
    escalate_to: Identifier | None = None
    on_timeout: OnTimeout = OnTimeout.DENY
    escalation_timeout: PolicySeconds | None = None

    @model_validator(mode="after")
    def _escalation_policy(self) -> ApprovalRequest:
        check_escalation_policy(self)
        return self

    @property
    def has_escalation_policy(self) -> bool:
        """Whether reminders or escalation apply (else exactly today's single timer)."""
        return (
            self.remind_every is not None
            or self.escalate_after is not None
            or self.on_timeout is OnTimeout.ESCALATE
        )

    @property
    def total_timeout_seconds(self) -> float:
        """How long it may wait in all: ``timeout_seconds``, plus the second deadline."""
        if self.on_timeout is OnTimeout.ESCALATE:
            return self.timeout_seconds + (self.escalation_timeout or self.timeout_seconds)
        return self.timeout_seconds

    # N-of-M (docs/policies/n-of-m.md); the defaults are one decision by anyone but the requester.
    approvals_required: ApprovalsRequired = 1
    approver_group: Identifier | None = None

    @property
    def has_vote_policy(self) -> bool:
        """Whether votes are counted (``workflows.votes``): n > 1 or an approver group."""
        return self.approvals_required > 1 or self.approver_group is not None


APPROVAL_WORKFLOW = "ApprovalWorkflow"
"""The approval workflow's type name: input ``ApprovalRequest``, result ``ApprovalResult``."""
DECIDE_SIGNAL = "decide"
"""The approval workflow's signal that offers a ``Decision``."""
DECIDE_UPDATE = "decide_update"
"""The approval workflow's update that offers a ``Decision`` and answers a ``DecisionVerdict``;
its validator refuses (nothing reaches history) what the rules would refuse (docs/deciding.md)."""
STATUS_QUERY = "status"
"""The approval workflow's query that returns an ``ApprovalStatusView``."""


class Decision(_Model):
    """A human's answer for one approval, from whichever path saw it first."""

    approval_id: Identifier
    approved: StrictBool
    """``true`` or ``false``: a "yes", a 1 or a "false" string is refused, not read as a verdict."""
    decided_by: NameText = "human"
    comment: ReasonText | None = None
    decided_at: datetime | None = None
    source: DecisionSource = DecisionSource.CLIENT
    # The hash it approves, and the args it approves instead of the request's.
    action_hash: ActionHash | None = None
    edited_args: JsonArgs | None = None
    proof: Annotated[str, Field(max_length=200)] | None = None
    """[ext] The platform's signature over who decided what (durable_approvals/proof.py,
    docs/trust-model.md); a decision sent by signal has none."""
    channel: Literal["slack", "email"] | None = None
    """Where the decider decided when not on the platform or a terminal: the channel
    endpoint (docs/channels.md) names it, and signs it with ``channel_user``."""
    channel_user: Annotated[str, Field(max_length=MAX_CHANNEL_USER_CHARS)] | None = None
    """The decider's identity on that channel: a Slack user id or an email address."""

    def same_answer(self, other: Decision) -> bool:
        """Two sightings of one decision differ only in where they came from."""
        return (self.approved, self.decided_by) == (other.approved, other.decided_by)


class Ballot(_Model):
    """A human's decision as a surface takes it (CLI, Python, a tool), before it is bound to
    the request: what ``durable_approvals.deciding`` turns into the ``Decision`` it sends.

    Never crosses Temporal: ``approver_token`` is a credential (docs/trust-model.md).
    """

    approval_id: Identifier
    approved: bool
    decided_by: NameText = ""
    """Who decides; may stay empty when ``approver_token`` names them (the platform's route)."""
    comment: ReasonText | None = None
    edit: JsonArgs | None = None
    """A JSON merge patch of the request's args: approve them edited (an approval only)."""
    action_hash: ActionHash | None = None
    """The hash it approves, when the caller bound it already (else the decision module does)."""
    edited_args: JsonArgs | None = None
    """With ``action_hash``: the whole edited args it approves instead of the request's."""
    approver_token: SecretStr | None = None
    by_update: bool = False
    """Send it to the waiting workflow's ``decide_update`` whatever the platform serves."""
    bind_to_request: bool = True
    """Without ``action_hash``: name the hash of the args the workflow or item reports."""

    @model_validator(mode="after")
    def _edits_are_approvals(self) -> Ballot:
        if (self.edit is not None or self.edited_args is not None) and not self.approved:
            raise ValueError("only an approval may edit the args")
        if self.edit is not None and self.edited_args is not None:
            raise ValueError("edit and edited_args: give one")
        return self


class ApprovalResult(_Model):
    """What the agent gets back: the reference tool's keys, plus ``status`` and details."""

    approved: bool
    status: ApprovalStatus
    approval_id: str | None = None
    decided_by: str | None = None
    message: str | None = None
    error: str | None = None
    comment: str | None = None
    decided_at: datetime | None = None
    trace_id: str | None = None
    # Set for a request with args: what was approved (edited or not), and under which hash.
    workspace_id: str | None = None
    args: dict[str, Any] | None = None
    action_hash: str | None = None
    edited: bool | None = None
    escalated_to: str | None = None
    """Set when the request was escalated (docs/policies/escalation.md) before it ended."""
    escalated_at: datetime | None = None
    approvers: list[str] | None = None
    """Everyone whose approval counted, in order (a request with a vote policy only)."""

    def as_tool_result(self) -> dict[str, Any]:
        """The dict the reference tool returned, plus ``status``; absent keys stay absent."""
        return self.model_dump(mode="json", exclude_none=True)

    def covers(self, action: str, args: dict[str, Any] | None) -> bool:
        """Whether this approval covers running ``action`` with exactly ``args``.

        True only when granted for a request with args and the hash of
        (workspace, ``action``, ``args``) is the one approved: call it just before acting.
        """
        if not self.approved or self.action_hash is None or self.workspace_id is None:
            return False
        try:
            return action_hash(self.workspace_id, action, args) == self.action_hash
        except ArgsError:
            return False


class AuditOutcome(StrEnum):
    REQUESTED = "requested"
    GRANTED = "granted"
    DENIED = "denied"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    FAILURE = "failure"
    EXPIRED = "expired"
    REJECTED = "rejected"
    REMINDED = "reminded"
    ESCALATED = "escalated"
    VOTED = "voted"


class AuditEntry(_Model):
    """One lifecycle record, written once per ``event_id`` (run and lifecycle step)."""

    event_id: Annotated[str, Field(min_length=1, max_length=1_200)]
    timestamp: datetime
    event_type: str
    workspace_id: str
    actor: str | None = None
    action: str
    resource: str
    outcome: str
    trace_id: str
    extra: dict[str, Any] = Field(default_factory=dict)


class ApprovalState(StrEnum):
    """What the ``status`` query reports while and after the workflow runs."""

    CHECKING = "checking"
    PENDING = "pending"
    DECIDED = "decided"
    CLOSED = "closed"


class ApprovalStatusView(_Model):
    state: ApprovalState
    approval_id: str | None
    deadline: datetime | None
    trace_id: str
    decision: Decision | None = None
    rejected_decisions: int = 0
    action_hash: str | None = None
    action: str | None = None
    args: dict[str, Any] | None = None
    # escalation and reminders (unset without a policy)
    escalated_to: str | None = None
    escalated_at: datetime | None = None
    escalations: int = 0
    reminders: int = 0
    next_reminder_at: datetime | None = None
    # N-of-M: the votes counted so far (who, when, which answer) and the policy.
    votes: list[Decision] = Field(default_factory=list)
    approvals_required: int = 1
    approver_group: str | None = None


class VerdictOutcome(StrEnum):
    """What became of a decision sent by the ``decide_update`` update (docs/deciding.md)."""

    TAKEN = "taken"  # the decision of the approval (or the vote that decided it)
    COUNTED = "counted"  # an N-of-M vote that counts; the approval still waits for more
    REPEATED = "repeated"  # the same decider's same answer, taken or counted already
    REFUSED = "refused"  # not taken: ``reason`` says why


class DecisionVerdict(_Model):
    """The synchronous answer to a decision sent by update: taken, counted, repeated or
    refused (with the rule's reason), and the approval's state after it."""

    approval_id: str
    accepted: bool
    outcome: VerdictOutcome
    reason: str | None = None
    """Why it was refused (the audit's ``rejected_because`` vocabulary), or ``repeated``."""
    state: ApprovalState | None = None
    decision: Decision | None = None
    """The approval's decision once taken (another one, for a conflicting decision)."""
    votes: int = 0
    """Votes counted so far (a request with a vote policy)."""
    approvals_required: int = 1
