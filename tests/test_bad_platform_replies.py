"""Bad platform replies, table-driven, against the real reference platform.

Each row makes the platform answer ``POST /approvals`` with a broken reply
(via its fault mode) and checks that the client turns it into a typed error
with the right retry flag: a broken 201 is never retried (a retry could not
fix it and might duplicate the request), a 5xx always is. None may hang:
every call runs under a bounded timeout.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from durable_approvals import errors
from durable_approvals.platform_client import MAX_REPLY_BYTES, PlatformClient, PlatformError

LIMIT = 30.0

ROWS = [
    # (name, status, body, kind, retryable)
    (
        "html-error-page-201",
        201,
        "<html><body>Bad gateway</body></html>",
        errors.PLATFORM_BAD_REPLY,
        False,
    ),
    ("truncated-json-201", 201, '{"approval_id": "abc', errors.PLATFORM_BAD_REPLY, False),
    ("empty-body-201", 201, "", errors.PLATFORM_BAD_REPLY, False),
    ("missing-approval-id-201", 201, '{"status": "pending"}', errors.PLATFORM_BAD_REPLY, False),
    ("non-string-approval-id-201", 201, '{"approval_id": 42}', errors.PLATFORM_BAD_REPLY, False),
    (
        "malformed-approval-id-201",
        201,
        '{"approval_id": "../../etc/passwd"}',
        errors.PLATFORM_BAD_REPLY,
        False,
    ),
    ("json-array-201", 201, "[]", errors.PLATFORM_BAD_REPLY, False),
    (
        "oversized-reply-201",
        201,
        json.dumps({"approval_id": "a" * 8, "pad": "x" * (MAX_REPLY_BYTES + 10)}),
        errors.PLATFORM_BAD_REPLY,
        False,
    ),
    ("html-error-page-502", 502, "<html>502 Bad Gateway</html>", errors.PLATFORM_UNAVAILABLE, True),
    ("server-error-500", 500, None, errors.PLATFORM_UNAVAILABLE, True),
    ("unavailable-503", 503, '{"detail": "down"}', errors.PLATFORM_UNAVAILABLE, True),
    ("rate-limited-429", 429, None, errors.PLATFORM_UNAVAILABLE, True),
    ("bad-request-400", 400, '{"detail": "bad"}', errors.PLATFORM_REJECTED, False),
    ("forbidden-403", 403, None, errors.PLATFORM_REJECTED, False),
]


@pytest.mark.parametrize(
    ("status", "body", "kind", "retryable"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
async def test_a_broken_create_reply_is_a_typed_error(platform, status, body, kind, retryable):
    platform.faults.create_status = status
    platform.faults.create_body = body
    async with httpx.AsyncClient(timeout=10.0) as http:
        client = PlatformClient(http=http, base_url=platform.url, workspace_id=f"ws-{uuid.uuid4()}")
        with pytest.raises(PlatformError) as caught:
            async with asyncio.timeout(LIMIT):
                await client.create_approval("deploy", "why", idempotency_key=str(uuid.uuid4()))
    assert caught.value.kind == kind
    assert caught.value.retryable is retryable


async def test_connection_refused_is_retryable_and_bounded():
    async with httpx.AsyncClient(timeout=5.0) as http:
        # Port 9 (discard) on loopback: nothing listens there in the test environment.
        client = PlatformClient(http=http, base_url="http://127.0.0.1:9", workspace_id="ws-x")
        with pytest.raises(PlatformError) as caught:
            async with asyncio.timeout(LIMIT):
                await client.create_approval("deploy", "why", idempotency_key="k")
    assert caught.value.kind == errors.PLATFORM_UNAVAILABLE
    assert caught.value.retryable is True


async def test_a_reply_slower_than_the_client_timeout_is_retryable(platform):
    platform.faults.create_delay_seconds = 3.0
    async with httpx.AsyncClient(timeout=0.5) as http:
        client = PlatformClient(http=http, base_url=platform.url, workspace_id=f"ws-{uuid.uuid4()}")
        with pytest.raises(PlatformError) as caught:
            async with asyncio.timeout(LIMIT):
                await client.create_approval("deploy", "why", idempotency_key=str(uuid.uuid4()))
    assert caught.value.kind == errors.PLATFORM_UNAVAILABLE
    assert caught.value.retryable is True


async def test_a_retried_create_after_a_lost_reply_makes_exactly_one_request(platform):
    workspace = f"ws-{uuid.uuid4()}"
    key = str(uuid.uuid4())
    platform.faults.create_delay_seconds = 2.0
    async with httpx.AsyncClient(timeout=0.5) as http:
        client = PlatformClient(http=http, base_url=platform.url, workspace_id=workspace)
        with pytest.raises(PlatformError):
            async with asyncio.timeout(LIMIT):
                await client.create_approval("deploy", "why", idempotency_key=key)
    platform.faults.reset()
    async with httpx.AsyncClient(timeout=10.0) as http:
        client = PlatformClient(http=http, base_url=platform.url, workspace_id=workspace)
        async with asyncio.timeout(LIMIT):
            first = await client.create_approval("deploy", "why", idempotency_key=key)
            again = await client.create_approval("deploy", "why", idempotency_key=key)
            listed = await client.list_approvals()
    assert first == again
    assert [item["id"] for item in listed] == [first]
