"""``PlatformServer``: the platform served by uvicorn as a task of the caller's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Generator
from pathlib import Path
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from durable_approvals.devstack.platform.app import (
    check_identity_config,
    check_strict_config,
    create_app,
)
from durable_approvals.devstack.platform.approvers import Approvers, load_signing_key
from durable_approvals.devstack.platform.context import PlatformContext
from durable_approvals.devstack.platform.doors import normalize_origin
from durable_approvals.devstack.platform.hooks import PlatformHooks
from durable_approvals.devstack.platform.hub import Hub
from durable_approvals.devstack.platform.store import Store

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_SECONDS = 10.0
GRACEFUL_SHUTDOWN_SECONDS = 1  # in-flight requests (a delayed create) get this long at stop
STOP_TIMEOUT_SECONDS = 5.0


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signal handlers to their owner."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


_DENIAL_MESSAGE = "ASGI callable returned without completing handshake."


class _QuietDenials(logging.Filter):
    """Drops uvicorn's ERROR for a WebSocket refused with a denial response.

    The websockets-sansio protocol sends the denial correctly but logs
    "ASGI callable returned without completing handshake." for it
    (Kludex/uvicorn#3138). Every other record passes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _DENIAL_MESSAGE


_QUIET_DENIALS = _QuietDenials()


class PlatformServer:
    """The platform on ``host:port``, as an async context manager.

    ``start()`` after ``stop()`` serves again on the same port (the one bound
    first, when ``port`` was 0) and the same database. Each run gets a fresh
    app (store and hub); ``hooks`` is one object for the server's whole life.
    """

    def __init__(
        self,
        db_path: Path,
        *,
        token: str | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        strict: bool = False,
        hooks: PlatformHooks | None = None,
        approvers: Approvers | None = None,
        signing_key_path: Path | None = None,
        allowed_origins: tuple[str, ...] = (),
    ) -> None:
        """A server, not started yet.

        Args:
            db_path: the SQLite file (its folder is created at start).
            token: the bearer every route but ``/health`` requires; ``None``: no auth.
            port: 0 picks a free port.
            host: the address to bind.
            strict: serve the upstream contract alone (``create_app``); needs ``token``.
            hooks: where a test harness bends the platform.
            approvers: [ext] who may decide (docs/trust-model.md).
            signing_key_path: [ext] the Ed25519 key that signs decisions, created if
                missing, its public key written to ``<path>.pub``; needs ``approvers``.
            allowed_origins: [ext] browser origins trusted besides the platform's own
                (doors.py); each ``scheme://host[:port]``.

        Raises:
            ValueError: ``strict`` without a token; approvers or signing in strict mode,
                signing without approvers, approvers without a token; a malformed origin.
        """
        if strict:
            check_strict_config(token)
        self._approvers = approvers
        self._signing_key = load_signing_key(signing_key_path) if signing_key_path else None
        check_identity_config(strict, approvers, self._signing_key, token)
        self._allowed_origins = tuple(normalize_origin(origin) for origin in allowed_origins)
        self.db_path = db_path
        self.host = host
        self._token = token
        self._port = port
        self._strict = strict
        self._hooks = hooks if hooks is not None else PlatformHooks()
        self._app: FastAPI | None = None
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:  # never shows the token
        mode = ", strict=True" if self._strict else ""
        return (
            f"PlatformServer(db_path={self.db_path!r}, host={self.host!r}, port={self._port}{mode})"
        )

    async def __aenter__(self) -> PlatformServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        """Whether a run is serving."""
        return self._task is not None and not self._task.done()

    @property
    def port(self) -> int:
        """The bound port once started (the requested one before)."""
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self._port}"

    @property
    def strict(self) -> bool:
        """Whether this server serves the upstream contract alone."""
        return self._strict

    @property
    def hooks(self) -> PlatformHooks:
        """The hooks every run uses."""
        return self._hooks

    @property
    def app(self) -> FastAPI:
        """The app of the current (or last) run."""
        if self._app is None:
            raise RuntimeError("the platform has not been started")
        return self._app

    @property
    def store(self) -> Store:
        """The database of the current (or last) run."""
        return self._context.store

    @property
    def hub(self) -> Hub:
        """The sockets of the current (or last) run."""
        return self._context.hub

    @property
    def _context(self) -> PlatformContext:
        context: PlatformContext = self.app.state.platform
        return context

    def build_app(self) -> FastAPI:
        """A fresh app for one run; a harness may override it to add routes of its own."""
        return create_app(
            self.db_path,
            self._token,
            self._hooks,
            strict=self._strict,
            approvers=self._approvers,
            signing_key=self._signing_key,
            allowed_origins=self._allowed_origins,
        )

    async def start(self) -> None:
        """Serve until ``stop()``; returns once the port accepts connections.

        Raises:
            RuntimeError: the server could not bind or start in time.
        """
        if self.running:
            return
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        app = self.build_app()
        config = uvicorn.Config(
            app,
            host=self.host,
            port=self._port,
            log_level="warning",
            log_config=None,  # leave the process's logging setup to its owner
            lifespan="on",
            ws="websockets-sansio",  # supports the denial response (HTTP 401 on upgrade)
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
        logging.getLogger("uvicorn.error").addFilter(_QUIET_DENIALS)  # a no-op once added
        server = _EmbeddedServer(config)
        task = asyncio.create_task(_serve(server), name=f"platform-{self.host}:{self._port}")
        self._app, self._server, self._task = app, server, task
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT_SECONDS):
                while not server.started:
                    if task.done():
                        await task  # raises why it stopped
                        raise RuntimeError("the platform stopped while starting")
                    await asyncio.sleep(0.01)
        except BaseException:
            await self._abort()
            raise
        self._port = server.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close every socket, then shut down; quick, and a no-op when not running."""
        server, task = self._server, self._task
        self._server = self._task = None
        if server is None or task is None:
            return
        if self._app is not None and not task.done():
            # Before uvicorn's own shutdown: it would wait for these to end.
            await self.hub.drop_all(code=1001)
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            logger.warning("platform did not stop in %.0fs; forcing it", STOP_TIMEOUT_SECONDS)
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _abort(self) -> None:
        server, task = self._server, self._task
        self._server = self._task = None
        if server is not None:
            server.should_exit = server.force_exit = True
        if task is not None and not task.done():
            task.cancel()
        if task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task


async def _serve(server: uvicorn.Server) -> None:
    # uvicorn calls sys.exit() when it cannot bind; a SystemExit escaping a
    # task would stop the whole event loop, so it becomes an ordinary error.
    try:
        await server.serve()
    except SystemExit as error:
        raise RuntimeError(
            f"the platform could not start on {server.config.host}:{server.config.port} "
            f"(exit status {error.code})"
        ) from None


__all__ = ["PlatformServer"]
