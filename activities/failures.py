"""Activity failures leave the worker redacted: their messages land in Temporal's history.

An activity's exception, its cause and its context become failure messages stored in the
workflow's history (and shown by ``temporal workflow show``). ``RedactingInterceptor``
passes every failure through the logs' redaction (``durable_approvals.redaction``) first.
"""

from __future__ import annotations

import itertools
from typing import Any

from temporalio.exceptions import ApplicationError, FailureError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from durable_approvals.redaction import redact, redact_text

MAX_CHAIN = 8
"""Causes looked at (and kept) below the activity's own exception."""


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and the causes (or contexts) the failure converter would store."""
    chain = [error]
    while len(chain) <= MAX_CHAIN:
        last = chain[-1]
        below = last.__cause__ or (None if last.__suppress_context__ else last.__context__)
        if below is None or below in chain:
            break
        chain.append(below)
    return chain


def _message(error: BaseException) -> str:
    return error.message if isinstance(error, FailureError) else str(error)


def _leaks(error: BaseException) -> bool:
    return any(redact_text(_message(link)) != _message(link) for link in _chain(error))


def _redacted_copy(error: BaseException) -> ApplicationError:
    """An ``ApplicationError`` with ``error``'s type, retryability and traceback, the
    messages of it and its causes redacted."""
    if isinstance(error, ApplicationError):
        copy = ApplicationError(
            redact_text(error.message),
            *(redact(list(error.details))),
            type=error.type,
            non_retryable=error.non_retryable,
            next_retry_delay=error.next_retry_delay,
            category=error.category,
        )
    else:
        copy = ApplicationError(redact_text(_message(error)), type=type(error).__name__)
    return copy.with_traceback(error.__traceback__)


def redacted_failure(error: BaseException) -> BaseException:
    """``error`` itself when no message in its chain holds a secret, else a redacted copy
    of the chain (each link an ``ApplicationError`` of the same type name)."""
    if not _leaks(error):
        return error
    links = [_redacted_copy(link) for link in _chain(error)]
    for upper, lower in itertools.pairwise(links):
        upper.__cause__ = lower
    links[-1].__suppress_context__ = True
    return links[0]


class _RedactingActivityInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except Exception as error:
            if isinstance(error, FailureError) and not isinstance(error, ApplicationError):
                raise  # cancellation and timeouts: Temporal's own, no text of ours
            redacted = redacted_failure(error)
            if redacted is error:
                raise
            raise redacted from redacted.__cause__


class RedactingInterceptor(Interceptor):
    """Redacts every activity failure (local activities too) before the SDK reports it."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _RedactingActivityInbound(next)


__all__ = ["RedactingInterceptor", "redacted_failure"]
