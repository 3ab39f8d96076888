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

import asyncio
import dataclasses
import hmac
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
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


@dataclass
class Faults:
    """Switches that make the platform misbehave on purpose, for failure tests.

    Mutable and read on every request, so a test flips a field and the next
    call sees it; the same object survives a ``PlatformServer`` restart.
    """

    create_status: int | None = None
    """When set, create answers this status with ``create_body`` and stores nothing."""
    create_body: str | None = None
    """Raw reply text for ``create_status`` (sent as ``application/json``, valid or not)."""
    create_delay_seconds: float = 0.0
    """Store normally, then wait this long before replying: a reply after the client gave up."""
    refuse_websocket: bool = False
    """Refuse every WebSocket upgrade (HTTP 503)."""
    allow_self_decision: bool = False
    """Let the requester decide their own approval, as a platform without the rule would."""
    websocket_drop_after_seconds: float | None = None
    """Close each socket (code 1012) this long after it opened, if opened while set."""
    websocket_garbage: bool = False
    """Send garbage (non-JSON, binary, wrong shapes, bad ids, oversized) before each event."""
    websocket_silent: bool = False
    """Accept sockets and answer pings, but deliver no event: a socket that looks alive."""

    def reset(self) -> None:
        """Back to a well-behaved platform."""
        for field in dataclasses.fields(self):
            setattr(self, field.name, field.default)


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


class _FaultsUpdate(BaseModel):
    """The body of ``POST /_faults``: any subset of the ``Faults`` fields."""

    model_config = ConfigDict(extra="forbid", strict=True)

    create_status: int | None = Field(default=None, ge=100, le=599)
    create_body: str | None = None
    create_delay_seconds: float = Field(default=0.0, ge=0.0, le=300.0)
    refuse_websocket: bool = False
    allow_self_decision: bool = False
    websocket_drop_after_seconds: float | None = Field(default=None, gt=0.0, le=3600.0)
    websocket_garbage: bool = False
    websocket_silent: bool = False


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


def check_strict_config(token: str | None, fault_control: bool) -> None:
    """Refuse a strict-mode configuration the upstream platform could not have.

    Raises:
        ValueError: no token (the upstream answers 401 outside its dev mode,
            so a strict platform without one would be a looser one), or fault
            control asked for (the upstream has no ``/_faults`` routes; the
            in-process ``Faults`` still work).
    """
    if not token:
        raise ValueError("strict mode needs a bearer token: the upstream platform requires one")
    if fault_control:
        raise ValueError("strict mode serves no fault routes (/_faults): steer Faults in-process")


def create_app(
    db_path: Path,
    token: str | None = None,
    faults: Faults | None = None,
    *,
    fault_control: bool = False,
    strict: bool = False,
) -> FastAPI:
    """Build the platform app on the SQLite file ``db_path``.

    Args:
        db_path: the database file; created if missing, reused if present.
        token: when set, every route but ``/health`` and the WebSocket's own
            check requires ``Authorization: Bearer <token>``.
        faults: the fault switches to read; a fresh, harmless set if omitted.
        fault_control: also expose ``POST /_faults`` and
            ``POST /_faults/drop-sockets`` so another process can steer faults.
        strict: serve the upstream contract alone, every [ext] off (see the
            module docstring); needs ``token`` and excludes ``fault_control``.

    Returns:
        The app, with ``app.state.store``, ``app.state.hub``,
        ``app.state.faults`` and ``app.state.strict``. Its lifespan shutdown
        closes every socket and the database, so an app serves one run of a
        server.

    Raises:
        ValueError: ``strict`` without a token or with ``fault_control``.
    """
    if strict:
        check_strict_config(token, fault_control)
    store = Store(db_path)
    active_faults = faults if faults is not None else Faults()
    hub = Hub(faults=active_faults, broadcast_to_all=strict)
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
    app.state.faults = active_faults
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
        """Liveness; [ext] the open WebSockets: how a benchmark counts shared sockets."""
        if strict:
            return {"status": "ok"}
        return {"status": "ok", "websockets": hub.connection_count()}

    @app.post("/workspaces/{workspace_id}/approvals", dependencies=authorized, status_code=201)
    async def create_approval(workspace_id: str, request: Request) -> Response:
        if active_faults.create_status is not None:
            return Response(
                content=active_faults.create_body or "",
                status_code=active_faults.create_status,
                media_type="application/json",
            )
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
        if active_faults.create_delay_seconds > 0:
            await asyncio.sleep(active_faults.create_delay_seconds)
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
            allow_self_decision = active_faults.allow_self_decision
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
        refusal = _websocket_refusal(websocket, token, active_faults, strict=strict)
        if refusal is not None:
            status_code, error_text = refusal
            try:
                await websocket.send_denial_response(
                    JSONResponse({"error": error_text}, status_code=status_code)
                )
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

    if fault_control:  # never in strict mode (check_strict_config)
        _add_fault_routes(app, hub, active_faults, authorized)
    if not strict:
        # The page needs the [ext] socket query authentication, requester,
        # deadline and comment: against the upstream contract it cannot work.
        add_inbox_routes(app)

    return app


def _websocket_refusal(
    websocket: WebSocket, token: str | None, faults: Faults, *, strict: bool = False
) -> tuple[int, str] | None:
    if faults.refuse_websocket:
        return 503, "websocket refused (fault)"
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


def _add_fault_routes(app: FastAPI, hub: Hub, faults: Faults, authorized: list[Any]) -> None:
    """Routes that steer ``Faults`` over HTTP, for a platform in another process."""

    @app.post("/_faults", dependencies=authorized)
    async def set_faults(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if raw.strip():
            update = _parse(_FaultsUpdate, raw)
            for name in update.model_fields_set:
                setattr(faults, name, getattr(update, name))
        return dataclasses.asdict(faults)

    @app.post("/_faults/drop-sockets", dependencies=authorized)
    async def drop_sockets() -> dict[str, int]:
        return {"dropped": await hub.drop_all()}


__all__ = [
    "STRICT_AUTO_DENIED_BY",
    "STRICT_AUTO_DENY_SECONDS",
    "STRICT_NOT_FOUND_BODY",
    "ApiError",
    "Faults",
    "check_strict_config",
    "create_app",
]
