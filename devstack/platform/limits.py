"""The reference platform's size caps, in both modes (docs/platform-modes.md, "Limits").

A whole body above ``MAX_BODY_BYTES`` is 413 before it is parsed; an ``action``,
``reason`` or ``context.args`` above its cap is 422 naming the field. Together they keep
one item small enough that the newest 50 fit in a client's 2 MB reply cap
(``durable_approvals.platform_client.MAX_REPLY_BYTES``), whoever created them.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from durable_approvals.action_hash import MAX_ARGS_BYTES
from durable_approvals.devstack.platform.context import ApiError
from durable_approvals.models import MAX_ACTION_CHARS, MAX_REASON_CHARS

MAX_BODY_BYTES = 32 * 1024
"""A request body's cap, in bytes (50 such items are 1.6 MB)."""
MAX_ACTION = MAX_ACTION_CHARS
MAX_REASON = MAX_REASON_CHARS
MAX_ARGS = MAX_ARGS_BYTES
"""``context.args`` encoded as compact JSON, in bytes: the library's own cap."""

ERROR_TOO_LARGE = f"request body larger than {MAX_BODY_BYTES} bytes"


async def read_body(request: Request) -> bytes:
    """The body, read at most ``MAX_BODY_BYTES`` far.

    Raises:
        ApiError: 413 for a longer body (declared or sent).
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, {"error": ERROR_TOO_LARGE})
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, {"error": ERROR_TOO_LARGE})
        chunks.append(chunk)
    return b"".join(chunks)


def check_item_sizes(action: str, reason: str | None, context: dict[str, Any] | None) -> None:
    """Refuse a create whose fields exceed their caps.

    Raises:
        ApiError: 422 naming the field and its cap.
    """
    if len(action) > MAX_ACTION:
        raise ApiError(422, {"error": f"action longer than {MAX_ACTION} characters"})
    if reason is not None and len(reason) > MAX_REASON:
        raise ApiError(422, {"error": f"reason longer than {MAX_REASON} characters"})
    args = (context or {}).get("args")
    if args is not None:
        size = len(json.dumps(args, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_ARGS:
            raise ApiError(422, {"error": f"context.args larger than {MAX_ARGS} bytes"})


__all__ = [
    "ERROR_TOO_LARGE",
    "MAX_ACTION",
    "MAX_ARGS",
    "MAX_BODY_BYTES",
    "MAX_REASON",
    "check_item_sizes",
    "read_body",
]
