"""The fault suite as one command:
``python -m tests.faults [RUNS] [--only SECTION,...] [--platforms MODE,...]``.

Prints one table over real processes on loopback: per fault, the runs and, for
each platform mode (docs/platform-modes.md: ``reference``, and ``strict``, the
upstream contract alone), lost, duplicated and hung; exits non-zero if anything
was lost, duplicated or hung in any mode. Every section runs once per mode, on a
platform of that mode (a strict one with its token, which the workers get too).
Sections:

- ``platform``: the platform misbehaves (in-process faults) while a client
  creates approvals as the worker does (its create activity: the ``task_id``
  marker looked up in the newest 50 before every POST, the same Idempotency-Key,
  which only the reference platform honours; retry only retryable errors).
  Counts come from the platform's own list: lost = no
  request stored, duplicated = more than one, hung = a create that did not
  finish within its bound. (Replies that are invalid, truncated, HTML or
  oversized are not faults to ride out but errors to report: see the
  table-driven tests/test_bad_platform_replies.py.) For racing decisions (approve, deny and a repeat
  sent at once) lost = no winner and duplicated = more than one accepted
  decision or a stored status that disagrees with the winner.
- ``crash``: the worker (which runs the workspace listener too) SIGKILLed at
  each lifecycle stage, from before RBAC through the listener's waiting,
  polling and signalling to the final audit, and restarted
  (tests/crash_stages.py), on a real dev server.
- ``restart``: the dev server stopped and started again on its SQLite file
  while approvals wait and the listener holds the socket (tests/server_restart.py;
  the strict platform runs in this process, the reference one as its own).
- ``websocket``: the platform's socket dropped every 0.5 s, carrying garbage
  frames, or silent (pings answered, nothing delivered) while RUNS approvals
  go through a real in-process worker (short listener intervals) on a real dev
  server, each decided once the workspace listener has caught up
  (tests/ws_faults.py): lost = the workflow finished with another decision,
  duplicated = more than one ``requested`` or outcome audit record, hung = no
  result within 20 s (the approval's own timer is 120 s). A run is one approval.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import httpx
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from durable_approvals import search_attributes
from durable_approvals.activities.messages import CreateApprovalInput
from durable_approvals.activities.platform_http import PlatformHttpActivities
from durable_approvals.activities.workspace import PlatformAccess
from durable_approvals.converter import data_converter
from durable_approvals.platform_client import PlatformClient, PlatformError
from durable_approvals.settings import Settings
from tests.crash_stages import run_stages
from tests.helpers import (
    PLATFORM_MODES,
    PLATFORM_TOKEN,
    SERVER_STARTUP_TIMEOUT,
    WORKSPACE,
    start_platform,
)
from tests.platform_faults import FaultyPlatform
from tests.server_restart import run_restart
from tests.ws_faults import WS_FAULTS, run_under_fault

BIN_DIR = Path(sys.executable).parent

BOUND_SECONDS = 30.0


async def _burst_5xx(server: FaultyPlatform) -> None:
    server.faults.create_status = random.choice([500, 502, 503])
    server.faults.create_body = random.choice([None, "<html>Bad gateway</html>"])


async def _slow_reply(server: FaultyPlatform) -> None:
    server.faults.create_delay_seconds = 1.0 + random.random()


async def _refuse_connections(server: FaultyPlatform) -> None:
    await server.stop()


async def _heal(server: FaultyPlatform) -> None:
    server.faults.reset()
    if not server.running:
        await server.start()  # same port, same database


FAULTS: dict[str, Callable[[FaultyPlatform], Awaitable[None]]] = {
    "platform 5xx burst (JSON or HTML body)": _burst_5xx,
    "reply slower than client timeout": _slow_reply,
    "platform connection refused": _refuse_connections,
}


def _token(server: FaultyPlatform) -> str | None:
    return PLATFORM_TOKEN if server.strict else None


def _settings(server: FaultyPlatform, workspace: str, folder: Path) -> Settings:
    """The worker's settings for ``server``: its URL and, for a strict one, its token."""
    token = _token(server)
    return Settings(
        platform_url=server.url,
        workspace_id=workspace,
        workspace_token=SecretStr(token) if token else None,
        audit_log_path=folder / "audit.jsonl",
        rbac_config_path=folder / "config.yaml",
        platform_http_timeout=5.0,
    )


async def _one_run(
    server: FaultyPlatform, inject: Callable[[FaultyPlatform], Awaitable[None]], folder: Path
) -> tuple[int, bool]:
    workspace = f"ws-{uuid.uuid4()}"
    request = CreateApprovalInput(
        workspace_id=workspace,
        action="deploy",
        reason="fault run",
        task_id=f"task-{uuid.uuid4()}",
        idempotency_key=str(uuid.uuid4()),
    )
    await inject(server)
    heal_after = random.randint(1, 3)
    attempts = 0
    hung = False
    try:
        async with asyncio.timeout(BOUND_SECONDS), httpx.AsyncClient(timeout=0.5) as http:
            # The worker's own create activity: what a retry finds is the product's logic.
            worker = PlatformHttpActivities(
                PlatformAccess(_settings(server, workspace, folder), http)
            )
            while True:
                attempts += 1
                if attempts > heal_after:
                    await _heal(server)
                try:
                    await worker.create_approval(request)
                    break
                except ApplicationError as error:
                    if error.non_retryable:
                        break
                    await asyncio.sleep(0.05)
    except TimeoutError:
        hung = True
    await _heal(server)
    async with httpx.AsyncClient(timeout=10.0) as http:
        client = PlatformClient(
            http=http, base_url=server.url, workspace_id=workspace, token=_token(server)
        )
        stored = len(await client.list_approvals())
    return stored, hung


async def _racing_decisions(server: FaultyPlatform) -> tuple[int, bool]:
    """Two different decisions (and a repeat) race; returns (winners, hung)."""
    workspace = f"ws-{uuid.uuid4()}"
    async with httpx.AsyncClient(timeout=10.0) as http:
        client = PlatformClient(
            http=http, base_url=server.url, workspace_id=workspace, token=_token(server)
        )
        approval_id = await client.create_approval("deploy", "race", idempotency_key="k")

        async def decide(approved: bool) -> bool:
            await asyncio.sleep(random.random() * 0.05)
            try:
                await client.decide(approval_id, approved=approved, decided_by="reviewer")
            except PlatformError:
                return False
            return True

        try:
            async with asyncio.timeout(BOUND_SECONDS):
                wins = await asyncio.gather(decide(True), decide(False), decide(True))
        except TimeoutError:
            return 0, True
        item = await client.get_approval(approval_id)
    winners = sum(wins)
    if winners == 1 and item is not None:
        expected = "approved" if wins[0] or wins[2] else "denied"
        winners = 1 if item["status"] == expected else 2  # stored status disagrees: counted as dup
    return winners, False


Counts = tuple[int, int, int]
"""lost, duplicated, hung."""
ModeRow = tuple[str, int, int, int, int]
"""(fault, runs, lost, duplicated, hung) in one platform mode."""
Row = tuple[str, int, dict[str, Counts]]
"""(fault, runs, counts per platform mode)."""


def _merge(per_mode: dict[str, list[ModeRow]]) -> list[Row]:
    """One row per fault, with each mode's counts, in the order the faults ran."""
    rows: dict[str, tuple[int, dict[str, Counts]]] = {}
    for mode, mode_rows in per_mode.items():
        for name, runs, lost, duplicated, hung in mode_rows:
            rows.setdefault(name, (runs, {}))[1][mode] = (lost, duplicated, hung)
    return [(name, runs, counts) for name, (runs, counts) in rows.items()]


async def _dev_server() -> WorkflowEnvironment:
    """A real ``temporal server start-dev``; its banner goes to stderr, not into the table."""
    saved = os.dup(1)
    os.dup2(2, 1)  # the server process inherits stdout at its start
    try:
        return await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(BIN_DIR / "temporal"),
            data_converter=data_converter,
            dev_server_log_level="error",
            dev_server_extra_args=list(search_attributes.DEV_SERVER_ARGS),
            dev_server_startup_timeout=SERVER_STARTUP_TIMEOUT,
        )
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


async def platform_rows(runs: int, modes: Iterable[str]) -> list[Row]:
    per_mode: dict[str, list[ModeRow]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            server = await start_platform(Path(tmp) / f"platform-{mode}.db", mode)
            try:
                per_mode[mode] = await _platform_rows(server, runs, Path(tmp))
            finally:
                await server.stop()
    return _merge(per_mode)


async def _platform_rows(server: FaultyPlatform, runs: int, folder: Path) -> list[ModeRow]:
    rows: list[ModeRow] = []
    for name, inject in FAULTS.items():
        lost = duplicated = hung = 0
        for _ in range(runs):
            stored, did_hang = await _one_run(server, inject, folder)
            lost += stored == 0
            duplicated += stored > 1
            hung += did_hang
        rows.append((name, runs, lost, duplicated, hung))
    lost = duplicated = hung = 0
    for _ in range(runs):
        winners, did_hang = await _racing_decisions(server)
        lost += winners == 0 and not did_hang
        duplicated += winners > 1
        hung += did_hang
    rows.append(("two different decisions race", runs, lost, duplicated, hung))
    return rows


async def crash_rows(runs: int, modes: Iterable[str]) -> list[Row]:
    per_mode: dict[str, list[ModeRow]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = await _dev_server()
        try:
            for mode in modes:
                folder = Path(tmp) / mode
                server = await start_platform(folder / "platform.db", mode)
                try:
                    settings = _settings(server, "faults", folder)
                    per_mode[mode] = []
                    for name, n, lost, dup, hung, details in await run_stages(
                        env.client, settings, folder, runs
                    ):
                        per_mode[mode].append((name, n, lost, dup, hung))
                        for detail in details:
                            print(f"[{mode}] {detail}", file=sys.stderr)
                finally:
                    await server.stop()
        finally:
            await env.shutdown()
    return _merge(per_mode)


async def restart_rows(runs: int, modes: Iterable[str]) -> list[Row]:
    per_mode: dict[str, list[ModeRow]] = {}
    for mode in modes:
        with tempfile.TemporaryDirectory() as tmp:
            name, n, lost, dup, hung, details = await run_restart(
                Path(tmp), approvals=2 * runs, platform_mode=mode
            )
        for detail in details:
            print(f"[{mode}] {detail}", file=sys.stderr)
        per_mode[mode] = [(name, n, lost, dup, hung)]
    return _merge(per_mode)


async def websocket_rows(runs: int, modes: Iterable[str]) -> list[Row]:
    """One row per WebSocket fault: ``runs`` approvals through a real worker each, per mode."""
    per_mode: dict[str, list[ModeRow]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = await _dev_server()
        try:
            for mode in modes:
                folder = Path(tmp) / mode
                server = await start_platform(folder / "platform.db", mode)
                try:
                    settings = _settings(server, WORKSPACE, folder)
                    per_mode[mode] = []
                    for name, inject in WS_FAULTS.items():
                        approvals = await run_under_fault(
                            env.client, settings, server, inject, runs
                        )
                        lost = sum(a.lost for a in approvals)
                        duplicated = sum(a.duplicated for a in approvals)
                        hung = sum(a.hung for a in approvals)
                        per_mode[mode].append((name, runs, lost, duplicated, hung))
                finally:
                    await server.stop()
        finally:
            await env.shutdown()
    return _merge(per_mode)


SECTIONS: dict[str, Callable[[int, Iterable[str]], Awaitable[list[Row]]]] = {
    "platform": platform_rows,
    "crash": crash_rows,
    "restart": restart_rows,
    "websocket": websocket_rows,
}
COUNTS = ("lost", "duplicated", "hung")


def header(modes: Iterable[str]) -> list[str]:
    """The table's column names: fault, runs, then ``<mode> <count>`` for each mode."""
    return ["fault", "runs", *(f"{mode} {count}" for mode in modes for count in COUNTS)]


def print_table(rows: list[Row], modes: Iterable[str] = PLATFORM_MODES) -> None:
    modes = list(modes)
    names = header(modes)
    width = max(len(names[0]), *(len(row[0]) for row in rows))
    print(f"| {names[0]:<{width}} | " + " | ".join(names[1:]) + " |")
    print(f"|{'-' * (width + 2)}|" + "|".join("-" * (len(name) + 2) for name in names[1:]) + "|")
    for name, n, counts in rows:
        cells = [f"{n:>{len(names[1])}}"]
        for mode in modes:
            values = counts.get(mode)
            for count, value in zip(COUNTS, values or (None,) * 3, strict=True):
                cells.append(f"{'n/a' if value is None else value:>{len(mode) + 1 + len(count)}}")
        print(f"| {name:<{width}} | " + " | ".join(cells) + " |")


def _failed(rows: list[Row]) -> bool:
    return any(any(values) for _, _, counts in rows for values in counts.values())


async def main(
    runs: int, sections: Iterable[str] = tuple(SECTIONS), modes: Iterable[str] = PLATFORM_MODES
) -> int:
    modes = list(modes)
    rows: list[Row] = []
    for section in sections:
        rows += await SECTIONS[section](runs, modes)
    print_table(rows, modes)
    return 1 if _failed(rows) else 0


def _arguments(argv: list[str]) -> tuple[int, list[str], list[str]]:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__)
    parser.add_argument("runs", nargs="?", type=int, default=3, help="runs per fault")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"sections, of {', '.join(SECTIONS)}"
    )
    parser.add_argument(
        "--platforms",
        default=",".join(PLATFORM_MODES),
        help=f"platform modes, of {', '.join(PLATFORM_MODES)} (one set of columns each)",
    )
    args = parser.parse_args(argv)
    sections = [name for name in args.only.split(",") if name]
    modes = [mode for mode in args.platforms.split(",") if mode]
    unknown = set(sections) - set(SECTIONS)
    unknown_modes = set(modes) - set(PLATFORM_MODES)
    if unknown or args.runs < 1:
        parser.error(f"unknown section(s) {sorted(unknown)}" if unknown else "RUNS must be >= 1")
    if unknown_modes or not modes:
        parser.error(f"unknown platform mode(s) {sorted(unknown_modes)}")
    return args.runs, sections, modes


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*_arguments(sys.argv[1:]))))
