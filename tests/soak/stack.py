"""The soak's stack: one real ``temporal server start-dev`` on its own SQLite file and
port, and one side per platform mode (an in-process ``FaultyPlatform``, its settings,
its task queue, two worker processes)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from bench.processes import ROOT, dev_server_argv, free_port, stop, wait_for_port
from durable_approvals.converter import data_converter
from durable_approvals.platform_client import PlatformClient
from durable_approvals.settings import Settings
from tests.fault_kit import Fleet
from tests.helpers import PLATFORM_MODES, PLATFORM_TOKEN, WORKSPACE, start_platform
from tests.platform_faults import FaultyPlatform

QUIET_RUNTIME = Runtime(
    telemetry=TelemetryConfig(
        logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
    )
)
"""The driver's client keeps its retries through the outages to itself (no WARN lines)."""
WORKERS_PER_SIDE = 2
WORKER_ENV = {"APPROVAL_HEARTBEAT_TIMEOUT": "5"}
"""The listener's heartbeat timeout shortened as in the fault suite (production: 30 s)."""


class TemporalServer:
    """A dev server process that can be stopped and started on the same port and file."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.argv = dev_server_argv(data_dir / "temporal.db", self.port, free_port())
        self.log = data_dir / "temporal.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it (unless running) and wait until it listens."""
        if self.process is None:
            with self.log.open("ab") as out:
                self.process = subprocess.Popen(
                    self.argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
                )
            wait_for_port(self.port, self.process)

    def stop(self, *, kill: bool = False) -> None:
        """Stop it: SIGTERM (a clean stop), or SIGKILL with ``kill``."""
        if self.process is not None:
            stop(self.process, signal.SIGKILL if kill else signal.SIGTERM)
            self.process = None


@dataclass
class Side:
    """One platform mode: its platform, the workers' settings, its queue and workers."""

    mode: str
    platform: FaultyPlatform
    settings: Settings
    task_queue: str
    api: PlatformClient
    fleets: list[Fleet] = field(default_factory=list)

    def start_workers(self) -> None:
        for fleet in self.fleets:
            fleet.start()


@dataclass
class Stack:
    """The running soak stack."""

    data_dir: Path
    temporal: TemporalServer
    client: Client
    sides: list[Side]


def side_settings(platform: FaultyPlatform, data_dir: Path, task_queue: str) -> Settings:
    """The settings a side's workers, CLI and client use (as tests/conftest.py's)."""
    return Settings(
        platform_url=platform.url,
        workspace_id=WORKSPACE,
        workspace_token=SecretStr(PLATFORM_TOKEN) if platform.strict else None,
        audit_log_path=data_dir / "audit.jsonl",
        rbac_config_path=data_dir / "config.yaml",
        temporal_task_queue=task_queue,
        platform_http_timeout=5.0,
    )


async def _connect(port: int, tries: int = 60) -> Client:
    """A client of the dev server, once its frontend answers (it listens before)."""
    for _ in range(tries - 1):
        try:
            return await Client.connect(
                f"127.0.0.1:{port}", data_converter=data_converter, runtime=QUIET_RUNTIME
            )
        except RuntimeError:  # "Frontend is not healthy yet"
            await asyncio.sleep(1.0)
    return await Client.connect(
        f"127.0.0.1:{port}", data_converter=data_converter, runtime=QUIET_RUNTIME
    )


@contextlib.asynccontextmanager
async def running_stack(
    data_dir: Path, modes: tuple[str, ...] = PLATFORM_MODES
) -> AsyncIterator[Stack]:
    """Start the dev server, a platform per mode and two workers per mode; stop all at exit."""
    data_dir.mkdir(parents=True, exist_ok=True)
    temporal = TemporalServer(data_dir)
    await asyncio.to_thread(temporal.start)
    sides: list[Side] = []
    try:
        client = await _connect(temporal.port)
        async with httpx.AsyncClient(timeout=5.0) as http:
            for mode in modes:
                side_dir = data_dir / mode
                side_dir.mkdir(exist_ok=True)
                platform = await start_platform(side_dir / "platform.db", mode)
                settings = side_settings(platform, side_dir, f"soak-{mode}")
                api = PlatformClient(
                    http=http,
                    base_url=platform.url,
                    workspace_id=WORKSPACE,
                    token=PLATFORM_TOKEN if platform.strict else None,
                )
                side = Side(mode, platform, settings, settings.temporal_task_queue, api)
                side.fleets = [
                    Fleet(
                        client,
                        settings,
                        side.task_queue,
                        side_dir / f"worker-{n}.log",
                        **WORKER_ENV,
                    )
                    for n in range(WORKERS_PER_SIDE)
                ]
                sides.append(side)
                side.start_workers()
            yield Stack(data_dir, temporal, client, sides)
    finally:
        for side in sides:
            for fleet in side.fleets:
                fleet.kill()
            await side.platform.stop()
        await asyncio.to_thread(temporal.stop)
