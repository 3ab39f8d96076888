"""Timeouts and retry policies for each activity the approval workflow runs.

Collected here so that the trade-offs are visible in one place: short
request/response calls retry a bounded number of times and then fail the step;
the audit write retries without limit (a record is never dropped); the two
waiting activities retry after a crash, detected by their heartbeat timeout.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy

from approvals import errors

CALL_TIMEOUT = timedelta(seconds=15)

RBAC: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=5,
        non_retryable_error_types=[errors.UNKNOWN_WORKSPACE],
    ),
}

# Five attempts over roughly half a minute: long enough to ride out a platform
# restart, short enough that the agent hears about a dead platform promptly.
CREATE: dict[str, Any] = {
    "start_to_close_timeout": CALL_TIMEOUT,
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=5,
        non_retryable_error_types=list(errors.NON_RETRYABLE_CREATE_ERRORS),
    ),
}

EXPIRE: dict[str, Any] = {
    "start_to_close_timeout": CALL_TIMEOUT,
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=5),
        maximum_attempts=3,
    ),
}

AUDIT: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=0,
    ),
}

# The same write as a local activity: retried inside the worker, and past a
# minute of failures by a durable timer between attempts, never dropped.
LOCAL_AUDIT: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": AUDIT["retry_policy"],
}


def waiting(timeout_seconds: float, heartbeat_timeout_seconds: float) -> dict[str, Any]:
    """Options for the listener and the poller, which run until a decision or cancellation.

    The attempt may last as long as the approval; a worker crash is noticed
    after ``heartbeat_timeout_seconds`` and the activity restarts elsewhere.
    """
    return {
        "start_to_close_timeout": timedelta(seconds=timeout_seconds + 60),
        "heartbeat_timeout": timedelta(seconds=heartbeat_timeout_seconds),
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(seconds=1),
            maximum_interval=timedelta(seconds=10),
            maximum_attempts=0,
            non_retryable_error_types=[
                errors.WEBSOCKET_UNAVAILABLE,
                errors.UNKNOWN_WORKSPACE,
                errors.PLATFORM_REJECTED,
            ],
        ),
    }
