"""The routes outside a workspace: liveness (``/health``, open) and the admin pending list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends

from durable_approvals.devstack.platform.context import Context, require_token

STRICT_AUTO_DENY_SECONDS = 600
"""Strict mode: pending approvals older than this are denied when the pending list is read."""
STRICT_AUTO_DENIED_BY = "auto-expired"
"""Strict mode: the ``decided_by`` of such a denial."""

router = APIRouter()


@router.get("/health")
async def health() -> dict[str, Any]:
    """Liveness, as upstream; needs no token."""
    return {"status": "ok"}


@router.get("/approvals/pending", dependencies=[Depends(require_token)])
async def pending(platform: Context) -> list[dict[str, Any]]:
    """The newest pending approvals of every workspace, newest first.

    In strict mode, reading it first denies the stale ones, with no event, as upstream.
    """
    if platform.strict:
        cutoff = datetime.now(UTC) - timedelta(seconds=STRICT_AUTO_DENY_SECONDS)
        platform.store.deny_stale(cutoff, decided_by=STRICT_AUTO_DENIED_BY)
    return [platform.pending_item(approval) for approval in platform.store.list_pending()]


__all__ = ["STRICT_AUTO_DENIED_BY", "STRICT_AUTO_DENY_SECONDS", "router"]
