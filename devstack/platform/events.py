"""The WebSocket route ``/ws``: a workspace's events, pushed; whatever the client sends is ignored.

A refused upgrade gets a real HTTP status through the WebSocket Denial
Response extension: 401 for a missing or wrong bearer (when a token is set),
400 without a workspace, 403 (reference mode) from a ``Host`` or ``Origin`` that is not
the platform's (doors.py), or the hooks' own denial. A server without the
extension refuses with 403 instead. The reference platform also takes the
browser's ``?workspace=`` and ``?token=``; strict mode reads headers only.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect

from durable_approvals.devstack.platform.context import ERROR_UNAUTHORIZED, Context, bearer_ok

logger = logging.getLogger(__name__)

ERROR_NO_WORKSPACE = "missing X-Workspace-ID header"

router = APIRouter()


@router.websocket("/ws")
async def websocket_events(websocket: WebSocket, platform: Context) -> None:
    """Accept the socket, register it with the hub until it closes, or refuse it."""
    workspace_id = _workspace(websocket, strict=platform.strict)
    denial = platform.hooks.websocket_denial(workspace_id)
    if denial is None:
        refusal = _refusal(websocket, platform.token, workspace_id, strict=platform.strict)
        if refusal is None and not platform.strict:  # [ext] doors.py: no other page's socket
            refusal = platform.doors.socket_refusal(websocket.url.scheme, websocket.headers)
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
    # Registered before the accept so that nothing broadcast in between is lost.
    subscriber = platform.hub.register(workspace_id, websocket)
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
        await platform.hub.unregister(subscriber)


def _refusal(
    websocket: WebSocket, token: str | None, workspace_id: str, *, strict: bool
) -> tuple[int, str] | None:
    if token is not None and not (
        bearer_ok(websocket.headers.get("authorization"), token)
        or (not strict and _query_token_ok(websocket.query_params.get("token"), token))
    ):
        return 401, ERROR_UNAUTHORIZED
    if not workspace_id:
        return 400, ERROR_NO_WORKSPACE
    return None


def _query_token_ok(presented: str | None, token: str) -> bool:
    """The browser's way to authenticate (it cannot set headers on an upgrade); never logged."""
    return bool(presented) and hmac.compare_digest(str(presented).encode(), token.encode())


def _workspace(websocket: WebSocket, *, strict: bool) -> str:
    """``X-Workspace-ID``, or (reference mode) the browser's ``?workspace=``; may be empty."""
    header = websocket.headers.get("x-workspace-id") or ""
    if strict:
        return header
    return header or websocket.query_params.get("workspace") or ""


__all__ = ["router"]
