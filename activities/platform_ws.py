"""Platform WebSocket activity: wait for the decision event of one approval.

Order matters: subscribe first, then read the current state once (catch-up),
then wait for events. A decision made before the subscription is then found by
the read, and one made after it arrives as an event; the platform replays
nothing on reconnect, so every reconnect repeats the catch-up read.
"""

from __future__ import annotations

import asyncio
import logging

from temporalio import activity
from temporalio.exceptions import ApplicationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, WebSocketException

from activities.platform_http import heartbeat_period
from activities.workspace import PlatformAccess
from approvals import errors
from approvals.events import MAX_FRAME_BYTES, decision_from_frame, decision_from_item
from approvals.models import Decision, DecisionSource, WaitForDecisionInput
from approvals.platform_client import PlatformClient, PlatformError

logger = logging.getLogger(__name__)

MAX_CONNECT_FAILURES = 3
"""Consecutive failed (re)connects before the listener gives up and polling takes over."""
CONNECT_TIMEOUT_SECONDS = 10.0
_BACKOFF_SECONDS = (0.5, 1.0, 2.0)


class PlatformWebSocketActivities:
    def __init__(self, access: PlatformAccess) -> None:
        self._access = access

    @activity.defn
    async def listen_for_decision(self, request: WaitForDecisionInput) -> Decision:
        """Return the decision for ``request.approval_id`` as soon as the platform has it.

        The returned decision is how it reaches the workflow: the activity's
        completion is recorded in history once, so no second delivery path
        (a signal from here) has to be kept consistent with it.

        Raises:
            ApplicationError: ``WebSocketUnavailable`` (non-retryable) when the
                socket cannot be opened ``MAX_CONNECT_FAILURES`` times in a row.
        """
        platform = self._access.client(request.workspace_id)
        failures = 0
        while True:
            try:
                async with connect(
                    platform.websocket_url(),
                    additional_headers=platform.headers(),
                    open_timeout=CONNECT_TIMEOUT_SECONDS,
                    max_size=MAX_FRAME_BYTES,
                ) as socket:
                    failures = 0
                    decision = await _wait_on_socket(socket, platform, request.approval_id)
                    return decision
            except (OSError, TimeoutError, InvalidHandshake, WebSocketException) as error:
                failures += 1
                logger.warning(
                    "WebSocket for approval %s failed (%d/%d): %s",
                    request.approval_id,
                    failures,
                    MAX_CONNECT_FAILURES,
                    error,
                )
                if failures >= MAX_CONNECT_FAILURES:
                    raise ApplicationError(
                        f"WebSocket unavailable after {failures} attempts: {error}",
                        type=errors.WEBSOCKET_UNAVAILABLE,
                        non_retryable=True,
                    ) from error
                activity.heartbeat()
                await asyncio.sleep(_BACKOFF_SECONDS[min(failures, len(_BACKOFF_SECONDS)) - 1])


async def _catch_up(platform: PlatformClient, approval_id: str) -> tuple[bool, Decision | None]:
    """Read the current state once; (done, decision). A failed read is retried later."""
    try:
        item = await platform.get_approval(approval_id)
    except PlatformError as error:
        logger.warning("catch-up read for %s failed, will retry: %s", approval_id, error)
        return False, None
    return True, decision_from_item(item, approval_id, DecisionSource.CATCH_UP)


async def _wait_on_socket(
    socket: ClientConnection, platform: PlatformClient, approval_id: str
) -> Decision:
    beat = heartbeat_period()
    caught_up = False
    while True:
        activity.heartbeat()
        if not caught_up:
            caught_up, decision = await _catch_up(platform, approval_id)
            if decision is not None:
                return decision
        try:
            frame = await asyncio.wait_for(socket.recv(), timeout=beat)
        except TimeoutError:
            continue
        decision = decision_from_frame(frame, approval_id)
        if decision is not None:
            return decision
