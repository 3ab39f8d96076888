"""What the soak asks: a seeded plan per approval (platform mode, policy, way of deciding,
before or after the deadline) and the request each policy makes."""

from __future__ import annotations

import random
from dataclasses import dataclass

from durable_approvals.models import ApprovalRequest, OnTimeout
from tests.helpers import WORKSPACE

POLICIES = ("plain", "timeout", "escalation", "escalate-at-deadline", "votes", "args", "edits")
TIMINGS = ("before", "around", "after")
WAYS = ("platform", "signal", "update", "cli", "cancel")
REQUESTER = "soak-agent"
TABLE_ARGS = {"table": "staging", "rows": 100, "dry_run": False}


@dataclass(frozen=True)
class Plan:
    """One approval of the workload; ``timing``: its decisions go ``before`` the deadline,
    ``around`` it (within a second either side) or ``after`` it."""

    number: int
    mode: str
    policy: str
    way: str
    timing: str
    approved: bool
    delay: float
    """A fraction in [0.2, 1): of the wait (before), of a second (after the deadline)."""
    second_way: str | None
    """Another decider, a few seconds after the first (the first must win)."""

    @property
    def action(self) -> str:
        return f"soak {self.number} {self.policy} via {self.way}"


def ways_for(policy: str, mode: str) -> tuple[str, ...]:
    """The ways that mean what they say for ``policy`` on ``mode``: votes are counted from
    signals and updates (a platform decision on a strict platform is final, not a vote);
    a strict platform cannot carry the action hash, so args go by signal, update or CLI."""
    if policy == "votes":
        return ("signal", "update", "cancel")
    if policy in ("args", "edits") and mode == "strict":
        return ("signal", "update", "cli", "cancel")
    if policy == "edits":
        return ("signal", "update")  # an edit is sent with its hash by the client paths
    return WAYS


def make_plan(rng: random.Random, number: int, modes: tuple[str, ...]) -> Plan:
    """A seeded plan; ``timeout`` decides only after its deadline (or never)."""
    mode = modes[number % len(modes)]
    policy = rng.choice(POLICIES)
    way = rng.choice(ways_for(policy, mode))
    timing = rng.choices(TIMINGS, (6, 2, 2))[0] if policy != "timeout" else "after"
    second = None
    if policy not in ("votes", "timeout") and way != "cancel" and rng.random() < 0.3:
        second = rng.choice([w for w in ways_for(policy, mode) if w != "cancel"])
    return Plan(
        number=number,
        mode=mode,
        policy=policy,
        way=way,
        timing=timing,
        approved=rng.random() < 0.6,
        delay=rng.uniform(0.2, 1.0),
        second_way=second,
    )


def request_for(plan: Plan, rng: random.Random) -> ApprovalRequest:
    """The request of ``plan``'s policy (timeouts of seconds: the soak runs for minutes)."""
    fields: dict[str, object] = {
        "workspace_id": WORKSPACE,
        "action": plan.action,
        "reason": "chaos soak",
        "requester": REQUESTER,
        "timeout_seconds": rng.uniform(8, 16),
    }
    if plan.policy == "timeout":
        fields["timeout_seconds"] = rng.uniform(3, 6)
    elif plan.policy == "escalation":
        fields.update(
            timeout_seconds=rng.uniform(10, 16),
            remind_every=3.0,
            escalate_after=5.0,
            escalate_to="soak-oncall",
        )
    elif plan.policy == "escalate-at-deadline":
        fields.update(
            timeout_seconds=rng.uniform(4, 8),
            on_timeout=OnTimeout.ESCALATE,
            escalate_to="soak-oncall",
            escalation_timeout=rng.uniform(4, 8),
        )
    elif plan.policy == "votes":
        fields["approvals_required"] = 2
    elif plan.policy in ("args", "edits"):
        fields["args"] = {**TABLE_ARGS, "rows": plan.number}
    return ApprovalRequest.model_validate(fields)


def edited(request: ApprovalRequest) -> dict[str, object]:
    """The edit an approver makes to an ``edits`` request: same shape, other values."""
    assert request.args is not None
    return {**request.args, "dry_run": True}
