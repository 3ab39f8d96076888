"""Why a decision could not be answered with a verdict: typed, one line each."""

from __future__ import annotations


class ApprovalClosedError(LookupError):
    """The approval's workflow has ended (decided, timed out, cancelled): no update can
    reach it (``decide`` turns this into a verdict: repeated, conflicting or late)."""


class DecisionTimeoutError(TimeoutError):
    """No worker answered the decide update in time (none runs on the task queue, or it is
    stuck). The decision was not taken by then; the server may still hand it to a worker
    that comes back while it keeps the request (check with ``approvals show``)."""


class UnknownApprovalError(LookupError):
    """No approval with that id on the platform (the platform's route)."""


class TemporalUnreachableError(RuntimeError):
    """Temporal could not be reached: the message names ``TEMPORAL_ADDRESS``."""


__all__ = [
    "ApprovalClosedError",
    "DecisionTimeoutError",
    "TemporalUnreachableError",
    "UnknownApprovalError",
]
