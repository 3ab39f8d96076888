"""The reference approvals platform: the contract's HTTP and WebSocket routes on SQLite.

Reference mode adds the **[ext]** routes and fields; strict mode (``strict=True``,
``--strict``) serves the upstream contract alone. ``docs/platform-modes.md``
compares them; ``PlatformHooks`` is where a test harness bends the platform.
"""

from durable_approvals.devstack.platform.app import create_app
from durable_approvals.devstack.platform.hooks import PlatformHooks
from durable_approvals.devstack.platform.server import PlatformServer

__all__ = ["PlatformHooks", "PlatformServer", "create_app"]
