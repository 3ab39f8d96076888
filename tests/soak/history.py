"""What a workflow's history proves: when each decision reached the workflow (the
``workflow.now()`` of the task that handled it, which is what the rules date it by)
and when its cancellation did."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from temporalio.api.common.v1 import Payloads
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

from durable_approvals.converter import data_converter
from durable_approvals.models import DECIDE_SIGNAL, DECIDE_UPDATE, Decision


@dataclass
class Arrival:
    """A decision as the workflow received it, and its ``workflow.now()`` then."""

    decided_by: str
    approved: bool
    at: datetime
    way: str


@dataclass
class Facts:
    """Decisions that reached the workflow, in history order; the cancellation's arrival."""

    arrivals: list[Arrival] = field(default_factory=list)
    cancel_at: datetime | None = None


def _time(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime().replace(tzinfo=UTC)


def _decision(payloads: Payloads) -> Decision | None:
    try:
        [decision] = data_converter.payload_converter.from_payloads(
            list(payloads.payloads), [Decision]
        )
    except Exception:
        return None
    return decision if isinstance(decision, Decision) else None


def _handled_at(events: list[HistoryEvent], index: int) -> datetime | None:
    """The start time of the first completed workflow task after ``events[index]``."""
    started: HistoryEvent | None = None
    for event in events[index + 1 :]:
        if event.HasField("workflow_task_started_event_attributes"):
            started = event
        elif event.HasField("workflow_task_completed_event_attributes") and started is not None:
            return _time(started)
    return None


def facts(history: WorkflowHistory) -> Facts:
    """Read the decisions, the cancellation and the start out of ``history``."""
    events = list(history.events)
    found = Facts()
    last_started: HistoryEvent | None = None
    for index, event in enumerate(events):
        if event.HasField("workflow_task_started_event_attributes"):
            last_started = event
        elif event.HasField("workflow_execution_signaled_event_attributes"):
            signaled = event.workflow_execution_signaled_event_attributes
            decision = _decision(signaled.input)
            at = _handled_at(events, index)
            if signaled.signal_name == DECIDE_SIGNAL and decision and at:
                found.arrivals.append(Arrival(decision.decided_by, decision.approved, at, "signal"))
        elif event.HasField("workflow_execution_update_accepted_event_attributes"):
            accepted = event.workflow_execution_update_accepted_event_attributes
            request = accepted.accepted_request
            decision = _decision(request.input.args)
            if request.input.name == DECIDE_UPDATE and decision and last_started is not None:
                found.arrivals.append(
                    Arrival(decision.decided_by, decision.approved, _time(last_started), "update")
                )
        elif (
            event.HasField("workflow_execution_cancel_requested_event_attributes")
            and found.cancel_at is None
        ):
            found.cancel_at = _handled_at(events, index)
    return found
