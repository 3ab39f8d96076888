"""Platform WebSocket activity: wait for the decision event of one approval.

The socket itself is shared by every listener of the worker process
(:mod:`activities.decision_feed`): this activity subscribes to it, heartbeats
while it waits, and returns the decision. The feed's order of things
(subscribe, then catch-up read after every (re)connect) makes a decision made
before the subscription, or while the socket was down, still arrive.
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.decision_feed import DecisionFeeds, FeedUnavailable
from activities.platform_http import heartbeat_period
from activities.workspace import PlatformAccess
from approvals import errors
from approvals.models import Decision, WaitForDecisionInput


class PlatformWebSocketActivities:
    def __init__(self, access: PlatformAccess, feeds: DecisionFeeds) -> None:
        self._access = access
        self._feeds = feeds

    @activity.defn
    async def listen_for_decision(self, request: WaitForDecisionInput) -> Decision:
        """Return the decision for ``request.approval_id`` as soon as the platform has it.

        The returned decision is how it reaches the workflow: the activity's
        completion is recorded in history once, so no second delivery path
        (a signal from here) has to be kept consistent with it.

        Raises:
            ApplicationError: ``WebSocketUnavailable`` (non-retryable) when the
                shared socket cannot be opened: the workflow polls instead.
        """
        feed = self._feeds.for_platform(self._access.client(request.workspace_id))
        beat = heartbeat_period()
        async with feed.subscribe(request.approval_id) as decision:
            while not decision.done():
                activity.heartbeat()
                await asyncio.wait({decision}, timeout=beat)
            try:
                return decision.result()
            except FeedUnavailable as error:
                raise ApplicationError(
                    f"WebSocket unavailable: {error}",
                    type=errors.WEBSOCKET_UNAVAILABLE,
                    non_retryable=True,
                ) from error
