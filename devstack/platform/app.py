"""The reference approvals platform as a FastAPI app: ``create_app`` assembles the routers.

Replies follow ``docs/platform-contract.md`` to the byte where it says so
(status codes and ``{"error": ...}`` texts). The reference mode adds the
**[ext]** routes and fields; strict mode serves the upstream contract alone.
``docs/platform-modes.md`` lists both side by side.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from durable_approvals.devstack.platform import (
    admin_routes,
    approvals_routes,
    decide_routes,
    events,
    inbox,
)
from durable_approvals.devstack.platform.approvers import Approvers
from durable_approvals.devstack.platform.context import ApiError, PlatformContext
from durable_approvals.devstack.platform.doors import DoorMiddleware, Doors
from durable_approvals.devstack.platform.hooks import PlatformHooks
from durable_approvals.devstack.platform.hub import Hub
from durable_approvals.devstack.platform.store import Store

STRICT_NOT_FOUND_BODY = "404 page not found"
"""Strict mode's reply (plain text, 404) to a route or method it lacks, as Gin's."""


def check_strict_config(token: str | None) -> None:
    """Refuse a strict-mode configuration the upstream platform could not have.

    Raises:
        ValueError: no token (the upstream requires one outside its dev mode).
    """
    if not token:
        raise ValueError("strict mode needs a bearer token: the upstream platform requires one")


def check_identity_config(
    strict: bool,
    approvers: Approvers | None,
    signing_key: Ed25519PrivateKey | None,
    token: str | None = None,
) -> None:
    """Refuse verified deciders where they cannot work (docs/trust-model.md).

    Raises:
        ValueError: approvers or a signing key in strict mode (the upstream has neither),
            a signing key without approvers (it would sign names nobody checked), or
            approvers without a workspace token (anyone could then create, expire, remind
            and escalate: only the decisions would be closed).
    """
    if strict and (approvers is not None or signing_key is not None):
        raise ValueError("strict mode serves the upstream contract: no approvers, no signing")
    if signing_key is not None and approvers is None:
        raise ValueError("a signing key needs an approvers file: it signs authenticated names")
    if approvers is not None and not token:
        raise ValueError(
            "an approvers file needs a workspace token: without one, anyone who reaches the "
            "platform may create, expire, remind and escalate"
        )


def create_app(
    db_path: Path,
    token: str | None = None,
    hooks: PlatformHooks | None = None,
    *,
    strict: bool = False,
    approvers: Approvers | None = None,
    signing_key: Ed25519PrivateKey | None = None,
    allowed_origins: tuple[str, ...] = (),
) -> FastAPI:
    """Build the platform app on the SQLite file ``db_path``.

    Args:
        db_path: the database file; created if missing, reused if present.
        token: when set, every route but ``/health``, the inbox page and the
            WebSocket's own check requires ``Authorization: Bearer <token>``.
        hooks: where a test harness bends the platform; none if omitted.
        strict: serve the upstream contract alone, every [ext] off; needs ``token``.
        approvers: [ext] who may decide: ``decided_by`` comes from their token.
        signing_key: [ext] signs each decision recorded (``proof``); needs ``approvers``.
        allowed_origins: [ext] browser origins trusted besides the platform's own
            (``doors.normalize_origin``'s form); strict mode checks no origin.

    Returns:
        The app, its state at ``app.state.platform`` (a ``PlatformContext``).
        Its lifespan's end closes every socket and the database: an app
        serves one run of a server.

    Raises:
        ValueError: ``strict`` without a token; ``check_identity_config``'s refusals.
    """
    if strict:
        check_strict_config(token)
    check_identity_config(strict, approvers, signing_key, token)
    active_hooks = hooks if hooks is not None else PlatformHooks()
    context = PlatformContext(
        store=Store(db_path),
        hub=Hub(hooks=active_hooks, broadcast_to_all=strict),
        hooks=active_hooks,
        token=token,
        strict=strict,
        approvers=approvers,
        signing_key=signing_key,
        doors=Doors(allowed_origins=allowed_origins),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await context.hub.drop_all(code=1001)
        context.store.close()

    app = FastAPI(
        title="approvals reference platform",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.platform = context
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    if strict:
        app.add_exception_handler(StarletteHTTPException, _gin_not_found)  # type: ignore[arg-type]
    app.include_router(admin_routes.router)
    app.include_router(approvals_routes.router)
    app.include_router(events.router)
    if strict:
        app.include_router(decide_routes.strict_router)
    else:
        app.include_router(decide_routes.ext_router)
        app.include_router(approvals_routes.ext_router)
        app.include_router(inbox.router)
        # The doors run before any route: a refused request is never read (doors.py).
        app.add_middleware(DoorMiddleware, doors=context.doors)
    return app


async def _api_error(_: Request, error: ApiError) -> JSONResponse:
    return JSONResponse(error.body, status_code=error.status_code)


async def _gin_not_found(request: Request, error: StarletteHTTPException) -> Response:
    """A route the upstream lacks, or a method it does not take: Gin's 404."""
    if error.status_code in (404, 405):
        return PlainTextResponse(STRICT_NOT_FOUND_BODY, status_code=404)
    return await http_exception_handler(request, error)


__all__ = ["STRICT_NOT_FOUND_BODY", "check_strict_config", "create_app"]
