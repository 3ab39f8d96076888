"""Fuzzing the platform's replies (durable_approvals/platform_client.py).

Create replies go through the real reference platform (both modes) over HTTP on
127.0.0.1, with its create hook answering a generated status and body: the client returns
an approval id only from a 201 whose JSON object names a valid one, and otherwise raises a
``PlatformError`` whose kind and retry flag follow the status, never anything else. The
other routes' replies go through the same two parsers (a body as JSON, an error's text),
fuzzed here on generated replies.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from durable_approvals import errors
from durable_approvals.models import is_identifier
from durable_approvals.platform_client import (
    MAX_ERROR_CHARS,
    MAX_REPLY_BYTES,
    PlatformClient,
    PlatformError,
    _error_text,
    _json_body,
)
from tests.helpers import PLATFORM_TOKEN, start_platform
from tests.properties.strategies import any_json

RETRYABLE_4XX = {408, 425, 429}
statuses = st.sampled_from([200, 201, 201, 201, 400, 403, 404, 408, 409, 425, 429, 500, 502, 503])
bodies = st.one_of(
    any_json.map(json.dumps),
    st.builds(
        lambda v: json.dumps({"approval_id": v}), any_json | st.sampled_from(["a-1", "../x"])
    ),
    st.just('{"approval_id": "ok-1"}'),
    st.text(max_size=50),
    st.sampled_from(["", "null", "[", "<html>502</html>", '{"approval_id": "a-1"']).map(str),
)


def expected(status: int, body: str) -> tuple[str, Any]:
    """``("id", id)`` or ``("error", (kind, retryable))`` for a create reply."""
    if status != 201:
        retryable = status >= 500 or status in RETRYABLE_4XX
        kind = errors.PLATFORM_UNAVAILABLE if retryable else errors.PLATFORM_REJECTED
        return "error", (kind, retryable)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    found = data.get("approval_id") if isinstance(data, dict) else None
    if len(body.encode()) <= MAX_REPLY_BYTES and is_identifier(found):
        return "id", found
    return "error", (errors.PLATFORM_BAD_REPLY, False)


@pytest.fixture(scope="module", params=["reference", "strict"])
async def platform(request, tmp_path_factory):
    server = await start_platform(tmp_path_factory.mktemp("p") / "platform.db", request.param)
    yield server
    await server.stop()


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=25)
@given(statuses, bodies)
@example(201, "[" * 100_000)  # found: a deeply nested reply raised RecursionError
@example(201, '{"approval_id": ' * 30_000)
async def test_a_create_reply_gives_an_id_or_a_typed_error(platform, status, body):
    platform.faults.create_status, platform.faults.create_body = status, body
    try:
        async with httpx.AsyncClient(timeout=10.0) as http:
            client = PlatformClient(
                http=http,
                base_url=platform.url,
                workspace_id=f"ws-{uuid.uuid4()}",
                token=PLATFORM_TOKEN if platform.strict else None,
            )
            async with asyncio.timeout(30):
                got: tuple[str, Any] = (
                    "id",
                    await client.create_approval(
                        "deploy", "why", idempotency_key=str(uuid.uuid4())
                    ),
                )
    except PlatformError as error:
        got = "error", (error.kind, error.retryable)
        assert error.status_code == status
    finally:
        platform.faults.reset()
    assert got == expected(status, body)


replies = st.builds(
    lambda status, content: httpx.Response(status, content=content),
    st.sampled_from([200, 201, 404, 405, 409, 500]),
    st.one_of(
        bodies.map(str.encode),
        st.binary(max_size=100),
        st.builds(lambda text: json.dumps({"error": text}).encode(), st.text(max_size=300)),
        st.integers(1, 200_000).map(lambda n: b"[" * n),
    ),
)


@given(replies)
@example(httpx.Response(200, content=b"[" * 100_000))  # found: RecursionError
@example(httpx.Response(404, content=b'{"error": ' * 400 + b"[" * 3_000))
def test_a_reply_body_parses_or_is_a_typed_error(reply):
    try:
        body = _json_body(reply)
    except PlatformError as error:
        assert error.kind == errors.PLATFORM_BAD_REPLY and not error.retryable
    else:
        assert body == json.loads(reply.content)
    text = _error_text(reply)  # never raises; one short printable line, or None
    if text is not None:
        assert 0 < len(text) <= MAX_ERROR_CHARS and text.isprintable()
