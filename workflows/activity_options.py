"""Timeouts and retry policies of every activity the two workflows run.

Short calls are local activities with bounded retries, except the audit write,
which retries without limit; the listener is the one regular activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.common import RetryPolicy

from durable_approvals import errors


@dataclass(frozen=True)
class CallOptions:
    """``start_to_close_timeout`` and ``retry_policy`` of one short activity call, and
    how long it may take in all, retries included (``None``: the attempts bound it)."""

    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy
    schedule_to_close_timeout: timedelta | None = None


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

# Five attempts over about half a minute: a platform restart, not a dead platform.
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


def expire_call(retry_for_seconds: float | None) -> CallOptions:
    """The expiry's options: retried with backoff (up to 10 s apart) for
    ``retry_for_seconds`` while the platform does not answer, so a request that timed out
    is closed there too; ``None`` or 0 (histories from before it): ``PLATFORM_CALL``."""
    if not retry_for_seconds:
        return PLATFORM_CALL
    return CallOptions(
        start_to_close_timeout=CALL_TIMEOUT,
        retry_policy=RetryPolicy(
            initial_interval=timedelta(seconds=1),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=10),
            maximum_attempts=0,
            non_retryable_error_types=[errors.PLATFORM_REJECTED, errors.UNKNOWN_WORKSPACE],
        ),
        schedule_to_close_timeout=timedelta(seconds=retry_for_seconds),
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
    """Options for one listener session of ``session_seconds`` (plus a minute's margin)."""
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
