"""What every platform activity shares: the worker's own workspace and its HTTP pool.

A worker acts only for its own workspace: it holds that workspace's token, and
acting for another would either fail with 401 at the platform or, worse, act
with the wrong identity.
"""

from __future__ import annotations

import httpx
from temporalio.exceptions import ApplicationError

from approvals import errors
from approvals.platform_client import PlatformClient
from approvals.settings import Settings


def require_served_workspace(settings: Settings, workspace_id: str) -> None:
    if workspace_id != settings.workspace_id:
        raise ApplicationError(
            f"workspace {workspace_id!r} is not served by this worker",
            type=errors.UNKNOWN_WORKSPACE,
            non_retryable=True,
        )


class PlatformAccess:
    """One platform client for the served workspace over one shared HTTP pool.

    The client is kept (it learns which routes the platform has) and rebuilt only
    when the token changes (the token file may be rotated).
    """

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self._client: PlatformClient | None = None

    def client(self, workspace_id: str) -> PlatformClient:
        require_served_workspace(self.settings, workspace_id)
        token = self.settings.bearer_token()
        if self._client is None or self._client.token != token:
            self._client = PlatformClient(
                http=self.http,
                base_url=self.settings.platform_url,
                workspace_id=workspace_id,
                token=token,
            )
        return self._client
