"""The workflow's best-effort platform calls (workflows/platform_calls.py), without
Temporal: the activity runner answers or fails as a local activity would."""

from __future__ import annotations

import logging
from typing import Any

from temporalio.exceptions import ActivityError, ApplicationError, RetryState

from durable_approvals.activities.messages import ExpireOutcome
from durable_approvals.activities.platform_http import PlatformHttpActivities
from durable_approvals.models import Decision
from durable_approvals.workflows import activity_options as options
from durable_approvals.workflows.platform_calls import PlatformCalls, failure_message

LOGGER = logging.getLogger(__name__)


class Runner:
    """Runs "activities" by answering ``answer`` or raising ``error``; remembers the calls."""

    def __init__(self, answer: Any = None, error: BaseException | None = None) -> None:
        self.answer, self.error = answer, error
        self.calls: list[tuple[str, Any, options.CallOptions]] = []

    async def __call__(self, activity: Any, arg: Any, call: options.CallOptions) -> Any:
        self.calls.append((activity.__name__, arg, call))
        if self.error is not None:
            raise self.error
        return self.answer


def timed_out(cause: BaseException | None) -> ActivityError:
    error = ActivityError(
        "activity timed out",
        scheduled_event_id=1,
        started_event_id=2,
        identity="w",
        activity_type="expire_approval",
        activity_id="1",
        retry_state=RetryState.TIMEOUT,
    )
    error.__cause__ = cause
    return error


async def test_an_answer_passes_through_with_the_platform_call_options():
    outcome = ExpireOutcome(expired=True)
    runner = Runner(answer=outcome)
    assert await PlatformCalls("ws", runner, LOGGER).expire("a-1", "timeout") == outcome
    [(name, arg, call)] = runner.calls
    assert name == PlatformHttpActivities.expire_approval.__name__
    assert (arg.workspace_id, arg.approval_id, arg.reason) == ("ws", "a-1", "timeout")
    assert call is options.PLATFORM_CALL


async def test_a_failure_answers_the_fallback_and_says_why():
    runner = Runner(error=ApplicationError("platform down", type="PlatformUnavailable"))
    calls = PlatformCalls("ws", runner, LOGGER)
    assert await calls.expire("a-1", "timeout") is None
    assert await calls.read_decision("a-1") is None
    decision = Decision(approval_id="a-1", approved=True, decided_by="alice")
    assert await calls.record_decision(decision, final=False) is False
    shown = await calls.show_reminder("a-1", 2, None)
    assert (shown.value, shown.error) == (False, "platform down")


def test_the_failure_message_is_the_activity_s_own():
    assert failure_message(ApplicationError("no route")) == "no route"
    assert failure_message(timed_out(ApplicationError("503 from platform"))) == (
        "503 from platform"
    )
    assert failure_message(timed_out(None)) == "activity timed out"
