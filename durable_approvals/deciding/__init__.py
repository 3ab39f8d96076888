"""How a decision reaches an approval: one path for every surface (docs/deciding.md).

``Decider.decide(ballot)`` finds where the approval waits, binds the decision to the
request's action hash, chooses the route from the platform's ``PlatformCapabilities``
(learned once per decider) and answers one ``DecisionVerdict``: taken, counted,
repeated, or refused with the reason in the workflow validator's words.
"""

from __future__ import annotations

from durable_approvals.deciding.capabilities import CONTRACT, REFERENCE, PlatformCapabilities
from durable_approvals.deciding.decider import Decider, TemporalSource
from durable_approvals.deciding.errors import (
    ApprovalClosedError,
    DecisionTimeoutError,
    TemporalUnreachableError,
    UnknownApprovalError,
)
from durable_approvals.deciding.finding import FoundWorkflow, find_workflow, running_workflow
from durable_approvals.deciding.temporal import reach_temporal
from durable_approvals.deciding.update_route import offer_decision

__all__ = [
    "CONTRACT",
    "REFERENCE",
    "ApprovalClosedError",
    "Decider",
    "DecisionTimeoutError",
    "FoundWorkflow",
    "PlatformCapabilities",
    "TemporalSource",
    "TemporalUnreachableError",
    "UnknownApprovalError",
    "find_workflow",
    "offer_decision",
    "reach_temporal",
    "running_workflow",
]
