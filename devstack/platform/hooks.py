"""Where a test harness bends the platform: ``PlatformHooks``, whose defaults change nothing.

A harness subclasses it and passes the instance to ``create_app(..., hooks=...)``
or ``PlatformServer(..., hooks=...)``. Hooks are called on every request or
message, so a harness that keeps switches on its instance is obeyed at once.
They apply in both platform modes.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.responses import Response


class PlatformHooks:
    """The platform's extension points; every default leaves the contract untouched."""

    def create_reply(self, workspace_id: str) -> Response | None:
        """Called before a create is handled (after the token check).

        Returns:
            A reply to send instead; nothing is stored and no event is sent.
            ``None`` (the default) handles the create normally.
        """
        return None

    async def after_create(self, workspace_id: str, approval_id: str) -> None:
        """Awaited after a create is stored and its event queued, before the reply."""

    async def before_read(self, workspace_id: str) -> None:
        """Awaited before a list or one item is read (after the token check)."""

    def self_decision_allowed(self, workspace_id: str, approval_id: str) -> bool:
        """Whether the requester may decide this approval (reference mode only).

        Returns:
            ``False`` (the default) keeps the self-approval rule (403).
        """
        return False

    def websocket_denial(self, workspace_id: str) -> Response | None:
        """Called first on every WebSocket upgrade; ``workspace_id`` may be empty.

        Returns:
            A reply to refuse the upgrade with (sent as a WebSocket denial
            response), or ``None`` (the default) to go on with the usual checks.
        """
        return None

    def outgoing_frames(
        self, workspace_id: str, number: int, message: str
    ) -> Sequence[str | bytes]:
        """The frames to send for a socket's ``number``-th outgoing message (1-based).

        Returns:
            The frames in order, ``bytes`` as binary frames; the default is the
            message alone, an empty sequence swallows it.
        """
        return (message,)

    def socket_time_left(self, workspace_id: str, open_seconds: float) -> float | None:
        """How much longer a socket open for ``open_seconds`` may stay open.

        Asked when a socket opens (``open_seconds`` 0) and again whenever the
        time given last has run out.

        Returns:
            Seconds from now; zero or less closes the socket now (code 1012).
            ``None`` (the default) leaves it open.
        """
        return None


__all__ = ["PlatformHooks"]
