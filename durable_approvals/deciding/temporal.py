"""Reaching Temporal for a decision: one typed error that names the setting to change."""

from __future__ import annotations

from temporalio.client import Client

from durable_approvals.connection import connect
from durable_approvals.deciding.errors import TemporalUnreachableError
from durable_approvals.settings import Settings


async def reach_temporal(settings: Settings) -> Client:
    """A client connected as ``settings`` say.

    Raises:
        TemporalUnreachableError: no server answered; the message names TEMPORAL_ADDRESS.
    """
    try:
        return await connect(settings)
    except RuntimeError as error:
        raise TemporalUnreachableError(
            f"cannot reach Temporal at {settings.temporal_address} "
            f"(TEMPORAL_ADDRESS; namespace {settings.temporal_namespace}): {error}"
        ) from error


__all__ = ["reach_temporal"]
