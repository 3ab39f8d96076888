"""What every platform activity shares: the worker's own workspace and one platform client.

A worker acts only for its own workspace: it holds that workspace's token only.
"""

from __future__ import annotations

import httpx
from temporalio.exceptions import ApplicationError

from durable_approvals import errors
from durable_approvals.platform_client import PlatformClient
from durable_approvals.redaction import register_secret
from durable_approvals.settings import Settings, TokenSource


def require_served_workspace(settings: Settings, workspace_id: str) -> None:
    """Raise a final ``UNKNOWN_WORKSPACE`` error unless this worker serves ``workspace_id``."""
    if workspace_id != settings.workspace_id:
        raise ApplicationError(
            f"workspace {workspace_id!r} is not served by this worker",
            type=errors.UNKNOWN_WORKSPACE,
            non_retryable=True,
        )


class PlatformAccess:
    """The worker's one platform client, over one shared HTTP pool.

    The client lives as long as the worker (it learns which routes the platform
    has); each request carries the current token, the token file being re-read
    only when it changed.
    """

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self._tokens = TokenSource(settings)
        self._last_token: str | None = None
        self._platform = PlatformClient(
            http=http,
            base_url=settings.platform_url,
            workspace_id=settings.workspace_id,
            token_source=self._token,
        )

    def client(self, workspace_id: str) -> PlatformClient:
        """The platform client for ``workspace_id``, which must be the served workspace."""
        require_served_workspace(self.settings, workspace_id)
        return self._platform

    def _token(self) -> str | None:
        token = self._tokens()
        if token != self._last_token:
            register_secret(token)  # a rotated token is redacted from logs too
            self._last_token = token
        return token
