"""The processes a benchmark measures: Temporal dev server, platform, worker, each its own.

Separate processes so that the driver's own work does not share an event loop
(or a GIL) with the worker being measured, and so a worker can be SIGKILLed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from temporalio.client import Client

from bench.platform import WEBSOCKETS_PATH
from durable_approvals import search_attributes
from durable_approvals.converter import data_converter
from durable_approvals.platform_client import PlatformClient

ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent
WORKSPACE = "bench"
TASK_QUEUE = "bench"
FLOOR_TASK_QUEUE = "bench-floor"

# docs/performance.md, "The benchmark stack": WAL with synchronous=NORMAL
# keeps every commit off fsync's critical path; the dev server's default is a
# rollback journal that syncs on each of thousands of small commits.
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")
# One task-queue partition: with the default four, a task written to a partition
# where no poller waits sits there until it is forwarded (tens of ms each time).
# The transfer queue read at up to 1,000 times a second: the dev server has one
# history shard, whose reader of new tasks (a workflow task a signal schedules,
# an activity task) reads at most 20 times a second by default, so beyond ~20 new
# tasks a second each waits up to 50 ms for its read, in runs of either shape
# (docs/performance.md, issue 21's fourth round).
DYNAMIC_CONFIG = (
    "matching.numTaskqueueReadPartitions=1",
    "matching.numTaskqueueWritePartitions=1",
    'matching.stickyPollerUnavailableWindow="2s"',
    "history.transferProcessorMaxPollRPS=1000",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


@contextlib.contextmanager
def child(
    argv: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Stack:
    """A running dev server and platform, and how to start workers against them."""

    data_dir: Path
    temporal_port: int
    platform_port: int
    client: Client
    http: httpx.AsyncClient
    temporal: subprocess.Popen[bytes]
    temporal_argv: list[str]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def platform_url(self) -> str:
        return f"http://127.0.0.1:{self.platform_port}"

    def api(self) -> PlatformClient:
        return PlatformClient(http=self.http, base_url=self.platform_url, workspace_id=WORKSPACE)

    def worker_env(self, **overrides: str) -> dict[str, str]:
        """The workers' environment. Bytecode is cached (under the run's directory) as an
        installed package has it: without, the sandbox compiles every workflow module
        from source on every run, which penalises the longer module (docs/performance.md)."""
        inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        return {
            **inherited,
            "PYTHONPYCACHEPREFIX": str(self.data_dir / "pycache"),
            "PLATFORM_URL": self.platform_url,
            "WORKSPACE_ID": WORKSPACE,
            "AUDIT_LOG_PATH": str(self.data_dir / "audit.jsonl"),
            "RBAC_CONFIG_PATH": str(self.data_dir / "config.yaml"),
            "TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal_port}",
            "TEMPORAL_TASK_QUEUE": TASK_QUEUE,
            # Several workers per machine: none binds the default metrics port.
            "WORKER_METRICS_ADDRESS": "",
            **overrides,
        }

    def stop_temporal(self) -> None:
        """Stop the dev server (SIGTERM); its SQLite file stays."""
        stop(self.temporal)

    def start_temporal(self) -> None:
        """Start the dev server again on the same port and SQLite file."""
        with (self.data_dir / "temporal.log").open("ab") as out:
            self.temporal = subprocess.Popen(
                self.temporal_argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )
        wait_for_port(self.temporal_port, self.temporal)

    @property
    def audit_path(self) -> Path:
        return self.data_dir / "audit.jsonl"

    @property
    def floor_marks(self) -> Path:
        return self.data_dir / "floor.jsonl"

    def start_worker(self, **overrides: str) -> subprocess.Popen[bytes]:
        """``python worker.py`` for the bench workspace (``overrides``: more env vars)."""
        return self._start([sys.executable, "worker.py"], "worker.log", overrides)

    def start_floor_worker(self) -> subprocess.Popen[bytes]:
        """The floor shape's worker (:mod:`bench.floor`), on its own task queue."""
        argv = [sys.executable, "-m", "bench.floor", "--marks", str(self.floor_marks)]
        return self._start(argv, "floor.log", {"TEMPORAL_TASK_QUEUE": FLOOR_TASK_QUEUE})

    def _start(
        self, argv: list[str], log: str, overrides: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        with (self.data_dir / log).open("ab") as out:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.worker_env(**overrides),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.workers.append(process)
        return process


def dev_server_argv(
    db_file: Path,
    port: int,
    ui_port: int,
    pragmas: tuple[str, ...] = SQLITE_PRAGMAS,
    dynamic_config: tuple[str, ...] = DYNAMIC_CONFIG,
) -> list[str]:
    """``temporal server start-dev`` on 127.0.0.1:``port`` with its SQLite file ``db_file``
    (started again with the same argv, it serves the same workflows on the same port)."""
    argv = [
        str(BIN_DIR / "temporal"),
        "server",
        "start-dev",
        "--headless",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--db-filename",
        str(db_file),
        "--log-level",
        "error",
        *search_attributes.DEV_SERVER_ARGS,
    ]
    for pragma in pragmas:
        argv += ["--sqlite-pragma", pragma]
    for setting in dynamic_config:
        argv += ["--dynamic-config-value", setting]
    return argv


@contextlib.asynccontextmanager
async def stack(
    data_dir: Path,
    *,
    pragmas: tuple[str, ...] = SQLITE_PRAGMAS,
    dynamic_config: tuple[str, ...] = DYNAMIC_CONFIG,
) -> AsyncIterator[Stack]:
    data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before any process
    temporal_port, ui_port, platform_port = free_port(), free_port(), free_port()
    temporal_argv = dev_server_argv(
        data_dir / "temporal.db", temporal_port, ui_port, pragmas, dynamic_config
    )
    platform_argv = [
        sys.executable,
        "-m",
        "bench.platform",
        "--port",
        str(platform_port),
        "--db",
        str(data_dir / "platform.db"),
    ]
    with (
        child(temporal_argv, data_dir / "temporal.log") as temporal,
        child(platform_argv, data_dir / "platform.log") as platform,
    ):
        wait_for_port(temporal_port, temporal)
        wait_for_port(platform_port, platform)
        client = await Client.connect(f"127.0.0.1:{temporal_port}", data_converter=data_converter)
        # Idle connections expire before uvicorn's 5 s keep-alive timeout closes them:
        # reusing one the server is closing fails the request (ReadError).
        limits = httpx.Limits(max_connections=64, keepalive_expiry=2.0)
        async with httpx.AsyncClient(timeout=30.0, limits=limits) as http:
            running = Stack(
                data_dir, temporal_port, platform_port, client, http, temporal, temporal_argv
            )
            try:
                yield running
            finally:
                for worker in running.workers:
                    await asyncio.to_thread(stop, worker)
                if running.temporal is not temporal:  # restarted: the child() above has the old one
                    await asyncio.to_thread(stop, running.temporal)


async def platform_websockets(stack: Stack) -> int:
    """WebSockets open on the platform, as its hub counts them (:mod:`bench.platform`)."""
    reply = await stack.http.get(f"{stack.platform_url}{WEBSOCKETS_PATH}")
    count: int = reply.json()["websockets"]
    return count


async def wait_websockets(stack: Stack, count: int, limit: float) -> float:
    """Seconds until the platform counts ``count`` open WebSockets (read every 100 ms)."""
    began = time.perf_counter()
    async with asyncio.timeout(limit):
        while await platform_websockets(stack) != count:  # noqa: ASYNC110 - another process
            await asyncio.sleep(0.1)
    return time.perf_counter() - began


def rss_mib(process: subprocess.Popen[bytes]) -> float:
    return psutil.Process(process.pid).memory_info().rss / 2**20


def sockets_to(process: subprocess.Popen[bytes], port: int) -> int:
    connections = psutil.Process(process.pid).net_connections(kind="tcp")
    return sum(1 for c in connections if c.raddr and c.raddr.port == port)


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL, and reap it."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
