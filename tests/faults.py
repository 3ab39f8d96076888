"""The fault suite as one command: ``python -m tests.faults [RUNS] [--only SECTION,...]``.

Prints one table (fault, runs, lost, duplicated, hung) over real processes on
loopback, and exits non-zero if anything was lost, duplicated or hung.
Sections:

- ``platform``: the reference platform misbehaves (fault mode) while a client
  creates approvals with the worker's retry rule (retry only retryable errors,
  same Idempotency-Key). Counts come from the platform's own list: lost = no
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
  while approvals wait and the listener holds the socket (tests/server_restart.py).
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
from temporalio.testing import WorkflowEnvironment

from approvals import search_attributes
from approvals.converter import data_converter
from approvals.platform import PlatformServer
from approvals.platform_client import PlatformClient, PlatformError
from approvals.settings import Settings
from tests.crash_stages import run_stages
from tests.helpers import WORKSPACE
from tests.server_restart import run_restart
from tests.ws_faults import WS_FAULTS, run_under_fault

BIN_DIR = Path(sys.executable).parent

BOUND_SECONDS = 30.0


async def _burst_5xx(server: PlatformServer) -> None:
    server.faults.create_status = random.choice([500, 502, 503])
    server.faults.create_body = random.choice([None, "<html>Bad gateway</html>"])


async def _slow_reply(server: PlatformServer) -> None:
    server.faults.create_delay_seconds = 1.0 + random.random()


async def _refuse_connections(server: PlatformServer) -> None:
    await server.stop()


async def _heal(server: PlatformServer) -> None:
    server.faults.reset()
    if not server.running:
        await server.start()  # same port, same database


FAULTS: dict[str, Callable[[PlatformServer], Awaitable[None]]] = {
    "platform 5xx burst (JSON or HTML body)": _burst_5xx,
    "reply slower than client timeout": _slow_reply,
    "platform connection refused": _refuse_connections,
}


async def _one_run(
    server: PlatformServer, inject: Callable[[PlatformServer], Awaitable[None]]
) -> tuple[int, bool]:
    workspace = f"ws-{uuid.uuid4()}"
    key = str(uuid.uuid4())
    await inject(server)
    heal_after = random.randint(1, 3)
    attempts = 0
    hung = False
    try:
        async with asyncio.timeout(BOUND_SECONDS), httpx.AsyncClient(timeout=0.5) as http:
            client = PlatformClient(http=http, base_url=server.url, workspace_id=workspace)
            while True:
                attempts += 1
                if attempts > heal_after:
                    await _heal(server)
                try:
                    await client.create_approval("deploy", "fault run", idempotency_key=key)
                    break
                except PlatformError as error:
                    if not error.retryable:
                        break
                    await asyncio.sleep(0.05)
    except TimeoutError:
        hung = True
    await _heal(server)
    async with httpx.AsyncClient(timeout=10.0) as http:
        client = PlatformClient(http=http, base_url=server.url, workspace_id=workspace)
        stored = len(await client.list_approvals())
    return stored, hung


async def _racing_decisions(server: PlatformServer) -> tuple[int, bool]:
    """Two different decisions (and a repeat) race; returns (winners, hung)."""
    workspace = f"ws-{uuid.uuid4()}"
    async with httpx.AsyncClient(timeout=10.0) as http:
        client = PlatformClient(http=http, base_url=server.url, workspace_id=workspace)
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


Row = tuple[str, int, int, int, int]


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
        )
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


async def platform_rows(runs: int) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = PlatformServer(Path(tmp) / "platform.db", fault_control=True)
        await server.start()
        try:
            for name, inject in FAULTS.items():
                lost = duplicated = hung = 0
                for _ in range(runs):
                    stored, did_hang = await _one_run(server, inject)
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
        finally:
            await server.stop()
    return rows


async def crash_rows(runs: int) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = PlatformServer(Path(tmp) / "platform.db")
        await server.start()
        env = await _dev_server()
        try:
            settings = Settings(
                platform_url=server.url,
                workspace_id="faults",
                workspace_token=None,
                audit_log_path=Path(tmp) / "audit.jsonl",
                rbac_config_path=Path(tmp) / "config.yaml",
            )
            for name, n, lost, dup, hung, details in await run_stages(
                env.client, settings, Path(tmp), runs
            ):
                rows.append((name, n, lost, dup, hung))
                for detail in details:
                    print(detail, file=sys.stderr)
        finally:
            await env.shutdown()
            await server.stop()
    return rows


async def restart_rows(runs: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        name, n, lost, dup, hung, details = await run_restart(Path(tmp), approvals=2 * runs)
    for detail in details:
        print(detail, file=sys.stderr)
    return [(name, n, lost, dup, hung)]


async def websocket_rows(runs: int) -> list[Row]:
    """One row per WebSocket fault: ``runs`` approvals through a real worker each."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = PlatformServer(Path(tmp) / "platform.db", fault_control=True)
        await server.start()
        env = await _dev_server()
        try:
            settings = Settings(
                platform_url=server.url,
                workspace_id=WORKSPACE,
                workspace_token=None,
                audit_log_path=Path(tmp) / "audit.jsonl",
                rbac_config_path=Path(tmp) / "config.yaml",
                platform_http_timeout=5.0,
            )
            for name, inject in WS_FAULTS.items():
                approvals = await run_under_fault(env.client, settings, server, inject, runs)
                lost = sum(a.lost for a in approvals)
                duplicated = sum(a.duplicated for a in approvals)
                rows.append((name, runs, lost, duplicated, sum(a.hung for a in approvals)))
        finally:
            await env.shutdown()
            await server.stop()
    return rows


SECTIONS: dict[str, Callable[[int], Awaitable[list[Row]]]] = {
    "platform": platform_rows,
    "crash": crash_rows,
    "restart": restart_rows,
    "websocket": websocket_rows,
}


def print_table(rows: list[Row]) -> None:
    header = ("fault", "runs", "lost", "duplicated", "hung")
    width = max(len(row[0]) for row in rows)
    print(f"| {header[0]:<{width}} | " + " | ".join(header[1:]) + " |")
    print(f"|{'-' * (width + 2)}|------|------|------------|------|")
    for name, n, lost, dup, hung in rows:
        print(f"| {name:<{width}} | {n:>4} | {lost:>4} | {dup:>10} | {hung:>4} |")


async def main(runs: int, sections: Iterable[str] = tuple(SECTIONS)) -> int:
    rows: list[Row] = []
    for section in sections:
        rows += await SECTIONS[section](runs)
    print_table(rows)
    return 1 if any(row[2] or row[3] or row[4] for row in rows) else 0


def _arguments(argv: list[str]) -> tuple[int, list[str]]:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__)
    parser.add_argument("runs", nargs="?", type=int, default=3, help="runs per fault")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"sections, of {', '.join(SECTIONS)}"
    )
    args = parser.parse_args(argv)
    sections = [name for name in args.only.split(",") if name]
    unknown = set(sections) - set(SECTIONS)
    if unknown or args.runs < 1:
        parser.error(f"unknown section(s) {sorted(unknown)}" if unknown else "RUNS must be >= 1")
    return args.runs, sections


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*_arguments(sys.argv[1:]))))
