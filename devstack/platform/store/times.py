"""Timestamps as the contract writes them: RFC 3339, UTC, microseconds, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> str:
    """The current time in RFC 3339 UTC with a ``Z`` suffix, as the contract's timestamps."""
    return rfc3339(datetime.now(UTC))


def rfc3339(moment: datetime) -> str:
    """``moment`` (UTC) in the contract's format; one fixed format: text order is time order."""
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


__all__ = ["rfc3339", "utc_now"]
