"""The clients a command talks through: Temporal and the platform, as the settings say."""

from __future__ import annotations

import httpx
from temporalio.client import Client

from durable_approvals.cli.output import keep_secret
from durable_approvals.deciding import reach_temporal
from durable_approvals.platform_client import PlatformClient
from durable_approvals.settings import Settings


async def temporal(settings: Settings) -> Client:
    """A Temporal client; unreachable: ``TemporalUnreachableError`` naming TEMPORAL_ADDRESS."""
    return await reach_temporal(settings)


def platform(settings: Settings, http: httpx.AsyncClient) -> PlatformClient:
    """The platform client of the settings' workspace, over ``http`` (its token kept secret)."""
    token = settings.bearer_token()
    keep_secret(token)
    return PlatformClient(
        http=http,
        base_url=settings.platform_url,
        workspace_id=settings.workspace_id,
        token=token,
    )
