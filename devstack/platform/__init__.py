"""The reference approvals platform: the contract's HTTP and WebSocket routes on SQLite.

Every test, and every deployment without the Molecule platform, talks to this
server; ``docs/platform-contract.md`` is what it implements, plus the **[ext]**
routes (single item, expire, ``Idempotency-Key``, decision comments). Strict mode
(``strict=True``, ``--strict``) serves the upstream contract alone;
``docs/platform-modes.md`` compares the two.
"""

from devstack.platform.app import create_app
from devstack.platform.hooks import PlatformHooks
from devstack.platform.server import PlatformServer

__all__ = ["PlatformHooks", "PlatformServer", "create_app"]
