"""The reference platform for benchmarks: ``python -m bench.platform [platform options]``.

The platform's own command line (``python -m durable_approvals.devstack.platform``), plus
``GET /bench/websockets``: ``{"websockets": n}``, the sockets its hub holds.
Counted inside the platform because an open WebSocket and a kept-alive HTTP
connection look the same from outside (the worker holds both).
"""

from __future__ import annotations

import sys

from fastapi import FastAPI

from durable_approvals.devstack.platform import PlatformServer
from durable_approvals.devstack.platform.__main__ import main

WEBSOCKETS_PATH = "/bench/websockets"


class CountingPlatform(PlatformServer):
    """The platform with ``GET /bench/websockets``."""

    def build_app(self) -> FastAPI:
        app = super().build_app()

        async def websockets() -> dict[str, int]:
            return {"websockets": self.hub.connection_count()}

        app.add_api_route(WEBSOCKETS_PATH, websockets, methods=["GET"])
        return app


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], server_type=CountingPlatform))
