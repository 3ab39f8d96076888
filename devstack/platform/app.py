"""The reference approvals platform as a FastAPI app: the routes of the contract.

Replies follow the contract to the byte where it says so (status codes and the
``{"error": ...}`` texts), because the worker is tested against this server and
must behave the same against the Molecule platform. Bodies are parsed by hand
from the raw bytes so that every malformed body gets the contract's 400 text
instead of FastAPI's validation format.

[ext] Self-approval: ``POST .../decide`` by the approval's ``requester`` (the
name sent at create, compared case-insensitively, surrounding blanks ignored) is
refused with **403** ``{"error": "the requester cannot decide their own
approval", "reason": "self-approval"}``: nothing is stored, no event is sent,
the approval stays pending for someone else. Approvals created without a
requester can be decided by anyone. The ``allow_self_decision`` fault turns the
rule off, to stand in for a platform without it (Molecule).

Strict mode (``create_app(..., strict=True)``) serves the upstream contract
alone, every [ext] off, so that the product can be tested against what
production runs: a bearer token is required, ``Idempotency-Key`` is ignored,
there is no single-item, expire, fault or inbox route (answered as the
upstream Gin router answers a route it does not have: 404 ``404 page not
found`` in plain text), no ``comment``, ``requester`` or ``expires_at``, no
self-approval rule, socket authentication by headers only, every event to
every socket, and the upstream's lazy 10-minute auto-deny when the admin
pending list is read. ``docs/platform-modes.md`` lists both modes side by side.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.websockets import WebSocketDisconnect

from approvals.identity import SELF_APPROVAL
from approvals.models import CONTROL_CHARS, MAX_NAME_CHARS, MAX_REASON_CHARS
from devstack.platform.hooks import PlatformHooks
from devstack.platform.hub import Hub
from devstack.platform.inbox import add_inbox_routes
from devstack.platform.store import (
    Approval,
    ExpireOutcome,
    SelfDecisionRefused,
    Status,
    Store,
    utc_now,
)

logger = logging.getLogger(__name__)

ERROR_INVALID_BODY = "invalid request body"
ERROR_BAD_DECISION = "decision must be 'approved' or 'denied'"
ERROR_NOT_FOUND = "approval not found"
ERROR_NOT_DECIDABLE = "approval not found or already decided"
ERROR_UNAUTHORIZED = "unauthorized"
ERROR_SELF_DECISION = "the requester cannot decide their own approval"

# Strict mode. Gin (the upstream router) answers a route it does not have, or a
# method a route does not take (HandleMethodNotAllowed is off by default), with
# this plain-text 404.
STRICT_NOT_FOUND_BODY = "404 page not found"
# The upstream's lazy auto-deny: pending approvals older than this are denied
# by this name, with no event, whenever the admin pending list is read.
STRICT_AUTO_DENY_SECONDS = 600
STRICT_AUTO_DENIED_BY = "auto-expired"

ModelT = TypeVar("ModelT", bound=BaseModel)


class ApiError(Exception):
    """A contract error reply: a status code and its JSON body."""

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        super().__init__(status_code, body)
        self.status_code = status_code
        self.body = body


class _ContractCreateBody(BaseModel):
    """The create body of the upstream contract (strict mode); other fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    action: str = Field(min_length=1)
    reason: str | None = None
    task_id: str | None = None
    context: dict[str, Any] | None = None

    @field_validator("action")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("action is blank")
        return value


class _CreateBody(_ContractCreateBody):
    """The create body with the [ext] fields for the inbox."""

    requester: str | None = Field(default=None, max_length=200)
    timeout_seconds: float | None = Field(default=None, gt=0, le=10 * 366 * 86400)


class _ContractDecideBody(BaseModel):
    """The decide body of the upstream contract (strict mode).

    ``decided_by`` is held to the worker's ``Decision`` limits in both modes: a
    decision stored beyond them would be skipped by every listener and poller
    (logged, never delivered) and the approval would time out although a human
    decided.
    """

    model_config = ConfigDict(extra="ignore")

    decision: Any = None  # checked by hand: it has its own error text
    decided_by: str | None = Field(default=None, max_length=MAX_NAME_CHARS)

    @field_validator("decided_by")
    @classmethod
    def _printable_name(cls, value: str | None) -> str | None:
        if value is not None and any(not char.isprintable() for char in value):
            raise ValueError("decided_by has control characters")
        return value


class _DecideBody(_ContractDecideBody):
    """The decide body with the [ext] ``comment``, held to the worker's limits too."""

    comment: str | None = Field(default=None, max_length=MAX_REASON_CHARS)

    @field_validator("comment")
    @classmethod
    def _no_control_chars(cls, value: str | None) -> str | None:
        if value is not None and CONTROL_CHARS.search(value):
            raise ValueError("comment has control characters")
        return value


class _ExpireBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reason: str | None = None


def _parse(model: type[ModelT], raw: bytes) -> ModelT:
    try:
        return model.model_validate_json(raw)
    except ValidationError:
        raise ApiError(400, {"error": ERROR_INVALID_BODY}) from None


def _bearer_ok(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (constant-time compare)."""
    if not authorization:
        return False
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


def _envelope(event: str, workspace_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": event,
        "workspace_id": workspace_id,
        "timestamp": utc_now(),
        "payload": payload,
    }


def check_strict_config(token: str | None) -> None:
    """Refuse a strict-mode configuration the upstream platform could not have.

    Raises:
        ValueError: no token (the upstream answers 401 outside its dev mode,
            so a strict platform without one would be a looser one).
    """
    if not token:
        raise ValueError("strict mode needs a bearer token: the upstream platform requires one")


def create_app(
    db_path: Path,
    token: str | None = None,
    hooks: PlatformHooks | None = None,
    *,
    strict: bool = False,
) -> FastAPI:
    """Build the platform app on the SQLite file ``db_path``.

    Args:
        db_path: the database file; created if missing, reused if present.
        token: when set, every route but ``/health`` and the WebSocket's own
            check requires ``Authorization: Bearer <token>``.
        hooks: where a test harness bends the platform; none if omitted.
        strict: serve the upstream contract alone, every [ext] off (see the
            module docstring); needs ``token``.

    Returns:
        The app, with ``app.state.store``, ``app.state.hub``,
        ``app.state.hooks`` and ``app.state.strict``. Its lifespan shutdown
        closes every socket and the database, so an app serves one run of a
        server.

    Raises:
        ValueError: ``strict`` without a token.
    """
    if strict:
        check_strict_config(token)
    store = Store(db_path)
    active_hooks = hooks if hooks is not None else PlatformHooks()
    hub = Hub(hooks=active_hooks, broadcast_to_all=strict)
    shape: Callable[[Approval], dict[str, Any]] = (
        Approval.contract_item if strict else Approval.item
    )
    pending_shape: Callable[[Approval], dict[str, Any]] = (
        Approval.contract_pending_item if strict else Approval.pending_item
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await hub.drop_all(code=1001)
        store.close()

    app = FastAPI(
        title="approvals reference platform",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.store = store
    app.state.hub = hub
    app.state.hooks = active_hooks
    app.state.strict = strict

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(error.body, status_code=error.status_code)

    if strict:

        @app.exception_handler(StarletteHTTPException)
        async def _no_such_route(request: Request, error: StarletteHTTPException) -> Response:
            """A route the upstream does not have, or a method it does not take: Gin's 404."""
            if error.status_code in (404, 405):
                return PlainTextResponse(STRICT_NOT_FOUND_BODY, status_code=404)
            return await http_exception_handler(request, error)

    async def require_token(request: Request) -> None:
        """Refuse before anything is read or changed; the token itself is never logged."""
        if token is not None and not _bearer_ok(request.headers.get("authorization"), token):
            raise ApiError(401, {"error": ERROR_UNAUTHORIZED})

    authorized = [Depends(require_token)]

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness, as upstream."""
        return {"status": "ok"}

    @app.post("/workspaces/{workspace_id}/approvals", dependencies=authorized, status_code=201)
    async def create_approval(workspace_id: str, request: Request) -> Response:
        reply = active_hooks.create_reply(workspace_id)
        if reply is not None:
            return reply
        raw = await request.body()
        body: _ContractCreateBody
        if strict:  # no Idempotency-Key, no requester, no deadline: every POST is new
            body = _parse(_ContractCreateBody, raw)
            key, requester, timeout_seconds = None, None, None
        else:
            ext_body = _parse(_CreateBody, raw)
            body, requester, timeout_seconds = (
                ext_body,
                ext_body.requester,
                ext_body.timeout_seconds,
            )
            key = request.headers.get("idempotency-key") or None
        approval, created = store.create(
            workspace_id,
            action=body.action,
            reason=body.reason,
            task_id=body.task_id,
            context=body.context,
            idempotency_key=key,
            requester=requester,
            timeout_seconds=timeout_seconds,
        )
        if created:
            hub.broadcast(
                workspace_id,
                _envelope(
                    "APPROVAL_REQUESTED",
                    workspace_id,
                    {
                        "approval_id": approval.id,
                        "action": approval.action,
                        "reason": approval.reason,
                        "task_id": approval.task_id,
                    },
                ),
            )
        await active_hooks.after_create(workspace_id, approval.id)
        # A repeated key gets the first reply again: that reply said "pending".
        return JSONResponse({"approval_id": approval.id, "status": "pending"}, status_code=201)

    @app.get("/workspaces/{workspace_id}/approvals", dependencies=authorized)
    async def list_approvals(workspace_id: str) -> list[dict[str, Any]]:
        return [shape(approval) for approval in store.list_recent(workspace_id)]

    if not strict:

        @app.get("/workspaces/{workspace_id}/approvals/{approval_id}", dependencies=authorized)
        async def get_approval(workspace_id: str, approval_id: str) -> dict[str, Any]:
            """[ext] One item, for pollers whose approval fell out of the newest 50."""
            approval = store.get(workspace_id, approval_id)
            if approval is None:
                raise ApiError(404, {"error": ERROR_NOT_FOUND})
            return approval.item()

    @app.post("/workspaces/{workspace_id}/approvals/{approval_id}/decide", dependencies=authorized)
    async def decide(workspace_id: str, approval_id: str, request: Request) -> dict[str, Any]:
        raw = await request.body()
        body: _ContractDecideBody
        if strict:  # no comment, and no self-approval rule: the requester may decide
            body = _parse(_ContractDecideBody, raw)
            comment, allow_self_decision = None, True
        else:
            ext_body = _parse(_DecideBody, raw)
            body, comment = ext_body, ext_body.comment
            allow_self_decision = active_hooks.self_decision_allowed(workspace_id, approval_id)
        if body.decision not in (Status.APPROVED.value, Status.DENIED.value):
            raise ApiError(400, {"error": ERROR_BAD_DECISION})
        decision = Status(body.decision)
        try:
            approval = store.decide(
                workspace_id,
                approval_id,
                status=decision,
                decided_by=body.decided_by or "human",
                comment=comment,
                allow_self_decision=allow_self_decision,
            )
        except SelfDecisionRefused:
            logger.warning("refused a self-approval of %s in %s", approval_id, workspace_id)
            raise ApiError(403, {"error": ERROR_SELF_DECISION, "reason": SELF_APPROVAL}) from None
        if approval is None:
            raise ApiError(404, {"error": ERROR_NOT_DECIDABLE})
        event = "APPROVAL_APPROVED" if decision is Status.APPROVED else "APPROVAL_DENIED"
        payload: dict[str, Any] = {
            "approval_id": approval.id,
            "decision": decision.value,
            "decided_by": approval.decided_by,
        }
        if not strict:
            payload["comment"] = approval.comment
        hub.broadcast(workspace_id, _envelope(event, workspace_id, payload))
        return {"status": decision.value, "approval_id": approval.id}

    if not strict:

        @app.post(
            "/workspaces/{workspace_id}/approvals/{approval_id}/expire", dependencies=authorized
        )
        async def expire(workspace_id: str, approval_id: str, request: Request) -> dict[str, Any]:
            """[ext] Close a pending approval (the workflow's timeout or cancellation)."""
            raw = await request.body()
            reason = _parse(_ExpireBody, raw).reason if raw.strip() else None
            outcome, approval = store.expire(workspace_id, approval_id, reason=reason)
            if outcome is ExpireOutcome.NOT_FOUND or approval is None:
                raise ApiError(404, {"error": ERROR_NOT_FOUND})
            if outcome is ExpireOutcome.DECIDED:
                raise ApiError(
                    409, {"error": "approval already decided", "status": approval.status.value}
                )
            if outcome is ExpireOutcome.EXPIRED:
                hub.broadcast(
                    workspace_id,
                    _envelope("APPROVAL_EXPIRED", workspace_id, {"approval_id": approval.id}),
                )
            return {"status": Status.EXPIRED.value, "approval_id": approval.id}

    @app.get("/approvals/pending", dependencies=authorized)
    async def pending() -> list[dict[str, Any]]:
        if strict:
            # The upstream's lazy auto-deny: no event, only this read triggers it.
            cutoff = datetime.now(UTC) - timedelta(seconds=STRICT_AUTO_DENY_SECONDS)
            store.deny_stale(cutoff, decided_by=STRICT_AUTO_DENIED_BY)
        return [pending_shape(approval) for approval in store.list_pending()]

    @app.websocket("/ws")
    async def websocket_events(websocket: WebSocket) -> None:
        """Push the workspace's events; anything the client sends is ignored.

        Refusals use the WebSocket Denial Response extension, which uvicorn's
        websockets-sansio protocol supports, so the client gets a real HTTP
        status as from the Molecule platform: 401 for a missing or wrong bearer
        (when a token is configured), 400 without ``X-Workspace-ID``, 503 while
        the ``refuse_websocket`` fault is on. A server without that extension
        refuses with 403 instead (close before accept). Strict mode reads the
        headers only, never the browser's ``?workspace=`` and ``?token=``.
        """
        denial = active_hooks.websocket_denial(_websocket_workspace(websocket, strict=strict))
        if denial is None:
            refusal = _websocket_refusal(websocket, token, strict=strict)
            if refusal is not None:
                status_code, error_text = refusal
                denial = JSONResponse({"error": error_text}, status_code=status_code)
        if denial is not None:
            try:
                await websocket.send_denial_response(denial)
            except RuntimeError:
                # A server without the extension: closing before the accept
                # still refuses the upgrade, as HTTP 403.
                await websocket.close(code=1008)
            return
        workspace_id = _websocket_workspace(websocket, strict=strict)
        # Registered before the accept so that nothing broadcast in between is lost.
        subscriber = hub.register(workspace_id, websocket)
        try:
            await websocket.accept()
            subscriber.start()
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
        except (WebSocketDisconnect, RuntimeError) as error:
            # RuntimeError: the hub closed the socket (drop_all) before or
            # while we were reading; the client has been told already.
            logger.debug("socket of workspace %s ended: %r", workspace_id, error)
        finally:
            await hub.unregister(subscriber)

    if not strict:
        # The page needs the [ext] socket query authentication, requester,
        # deadline and comment: against the upstream contract it cannot work.
        add_inbox_routes(app)

    return app


def _websocket_refusal(
    websocket: WebSocket, token: str | None, *, strict: bool = False
) -> tuple[int, str] | None:
    if token is not None and not (
        _bearer_ok(websocket.headers.get("authorization"), token)
        or (not strict and _query_token_ok(websocket.query_params.get("token"), token))
    ):
        return 401, ERROR_UNAUTHORIZED
    if not _websocket_workspace(websocket, strict=strict):
        return 400, "missing X-Workspace-ID header"
    return None


def _query_token_ok(presented: str | None, token: str) -> bool:
    """The browser's way to authenticate the socket: ``/ws?token=...``.

    Browsers cannot set ``Authorization`` on a WebSocket upgrade. The query
    string is never logged by this platform (uvicorn's access log is off).
    """
    return bool(presented) and hmac.compare_digest(str(presented).encode(), token.encode())


def _websocket_workspace(websocket: WebSocket, *, strict: bool = False) -> str:
    """``X-Workspace-ID``, or (not in strict mode) ``?workspace=`` for browsers,
    which cannot set headers."""
    header = websocket.headers.get("x-workspace-id") or ""
    if strict:
        return header
    return header or websocket.query_params.get("workspace") or ""


__all__ = [
    "STRICT_AUTO_DENIED_BY",
    "STRICT_AUTO_DENY_SECONDS",
    "STRICT_NOT_FOUND_BODY",
    "ApiError",
    "check_strict_config",
    "create_app",
]
