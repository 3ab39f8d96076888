"""Timeouts and retry policies of every activity the two workflows run.

Short calls run as local activities: inside the workflow task that asks for
them, with no trip through the server's task queues. They retry a bounded number
of times and then fail the step; the audit write retries without limit (a record
is never dropped). The listener is the one regular, long-running activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.common import RetryPolicy

from approvals import errors


@dataclass(frozen=True)
class CallOptions:
    """``start_to_close_timeout`` and ``retry_policy`` of one short activity call."""

    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy


CALL_TIMEOUT = timedelta(seconds=15)

RBAC = CallOptions(
    start_to_close_timeout=timedelta(seconds=10),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=5,
        non_retryable_error_types=[errors.UNKNOWN_WORKSPACE],
    ),
)

# Five attempts over roughly half a minute: long enough to ride out a platform
# restart, short enough that the agent hears about a dead platform promptly.
CREATE = CallOptions(
    start_to_close_timeout=CALL_TIMEOUT,
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=5,
        non_retryable_error_types=list(errors.NON_RETRYABLE_CREATE_ERRORS),
    ),
)

# Reads and best-effort writes (expire, record a signalled decision).
PLATFORM_CALL = CallOptions(
    start_to_close_timeout=CALL_TIMEOUT,
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=5),
        maximum_attempts=3,
        non_retryable_error_types=[errors.PLATFORM_REJECTED, errors.UNKNOWN_WORKSPACE],
    ),
)

AUDIT = CallOptions(
    start_to_close_timeout=timedelta(seconds=10),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=0,
    ),
)


@dataclass(frozen=True)
class ListenerOptions:
    """The listener activity: one session, heartbeating, retried without limit."""

    start_to_close_timeout: timedelta
    heartbeat_timeout: timedelta
    retry_policy: RetryPolicy


def listener(session_seconds: float, heartbeat_timeout_seconds: float) -> ListenerOptions:
    """A session may last ``session_seconds``; a dead worker is noticed after the heartbeat
    timeout and the session starts again on another worker."""
    return ListenerOptions(
        start_to_close_timeout=timedelta(seconds=session_seconds + 60),
        heartbeat_timeout=timedelta(seconds=heartbeat_timeout_seconds),
        retry_policy=RetryPolicy(
            initial_interval=timedelta(seconds=1),
            maximum_interval=timedelta(seconds=10),
            maximum_attempts=0,
            non_retryable_error_types=[errors.UNKNOWN_WORKSPACE],
        ),
    )
