"""Serve an ASGI app with uvicorn as a task of the caller's event loop (the channel
endpoint, the Slack stand-in)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from types import TracebackType
from typing import Any

import uvicorn

STARTUP_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 5.0


class _EmbeddedServer(uvicorn.Server):
    """Leaves the process's signal handlers to their owner."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class AppServer:
    """``app`` on ``host:port`` (0: a free port) until ``stop()``."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def __aenter__(self) -> AppServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Serve; returns once the port accepts connections.

        Raises:
            RuntimeError: it could not bind or start in time.
        """
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            log_config=None,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = _EmbeddedServer(config)
        task = asyncio.create_task(server.serve())
        self._server, self._task = server, task
        async with asyncio.timeout(STARTUP_TIMEOUT_SECONDS):
            while not server.started:
                if task.done():
                    with contextlib.suppress(SystemExit):
                        await task
                    raise RuntimeError(f"could not serve on {self.host}:{self.port}")
                await asyncio.sleep(0.01)
        self.port = server.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Shut down; a no-op when not running."""
        server, task = self._server, self._task
        self._server = self._task = None
        if server is None or task is None:
            return
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


__all__ = ["AppServer"]
