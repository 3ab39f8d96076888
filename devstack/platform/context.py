"""What every route of the platform shares: its state, the token check and the error reply."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends
from pydantic import BaseModel, ValidationError
from starlette.requests import HTTPConnection

from durable_approvals.devstack.platform.approvers import Approvers
from durable_approvals.devstack.platform.doors import Doors
from durable_approvals.devstack.platform.hooks import PlatformHooks
from durable_approvals.devstack.platform.hub import Hub
from durable_approvals.devstack.platform.store import Approval, Store, utc_now

ERROR_INVALID_BODY = "invalid request body"
ERROR_UNAUTHORIZED = "unauthorized"

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class PlatformContext:
    """One app's state, at ``app.state.platform``: one run of a server."""

    store: Store
    hub: Hub
    hooks: PlatformHooks
    token: str | None
    """The bearer every route but ``/health`` requires; ``None``: no auth."""
    strict: bool
    """Serve the upstream contract alone (``docs/platform-modes.md``)."""
    approvers: Approvers | None = None
    """[ext] Who may decide (docs/trust-model.md); ``None``: ``decided_by`` as sent."""
    signing_key: Ed25519PrivateKey | None = None
    """[ext] Signs each decision and vote it records (``proof``); needs ``approvers``."""
    doors: Doors = field(default_factory=Doors)
    """[ext] Where browsers may write from (doors.py); reference mode only."""

    def item(self, approval: Approval) -> dict[str, Any]:
        """An approval as the list and single-item routes show it in this mode."""
        return approval.contract_item() if self.strict else approval.item()

    def pending_item(self, approval: Approval) -> dict[str, Any]:
        """An approval as the admin pending list shows it in this mode."""
        return approval.contract_pending_item() if self.strict else approval.pending_item()


def platform_context(connection: HTTPConnection) -> PlatformContext:
    """The dependency that hands a route its app's ``PlatformContext``."""
    context: PlatformContext = connection.app.state.platform
    return context


Context = Annotated[PlatformContext, Depends(platform_context)]
"""A route parameter of this type receives the app's ``PlatformContext``."""


class ApiError(Exception):
    """A contract error reply: a status code and its JSON body."""

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        super().__init__(status_code, body)
        self.status_code = status_code
        self.body = body


def bearer_ok(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (constant-time compare)."""
    if not authorization:
        return False
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


async def require_token(connection: HTTPConnection, platform: Context) -> None:
    """The dependency of every token-checked route; runs before anything is read.

    Raises:
        ApiError: 401 ``unauthorized`` when a token is set and not presented.
    """
    token = platform.token
    if token is not None and not bearer_ok(connection.headers.get("authorization"), token):
        raise ApiError(401, {"error": ERROR_UNAUTHORIZED})


def parse_body(model: type[ModelT], raw: bytes) -> ModelT:
    """``raw`` as ``model``.

    Raises:
        ApiError: 400 ``invalid request body`` for anything ``model`` refuses.
    """
    try:
        return model.model_validate_json(raw)
    except ValidationError:
        raise ApiError(400, {"error": ERROR_INVALID_BODY}) from None


def envelope(event: str, workspace_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """An event as the WebSocket sends it."""
    return {
        "event": event,
        "workspace_id": workspace_id,
        "timestamp": utc_now(),
        "payload": payload,
    }


__all__ = [
    "ERROR_INVALID_BODY",
    "ERROR_UNAUTHORIZED",
    "ApiError",
    "Context",
    "PlatformContext",
    "bearer_ok",
    "envelope",
    "parse_body",
    "platform_context",
    "require_token",
]
