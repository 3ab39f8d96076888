"""Fault-suite command for platform faults: ``python -m tests.faults [RUNS]``.

For each fault the real reference platform misbehaves (fault mode) while a
client creates approvals with the worker's retry rule (retry only retryable
errors, same Idempotency-Key). Counts come from the platform's own list:
lost = no request stored, duplicated = more than one, hung = a create that
did not finish within its bound. Prints the table (fault, runs, lost,
duplicated, hung). For racing decisions (approve, deny and a repeat sent at
once) lost = no winner and duplicated = more than one accepted decision or a
stored status that disagrees with the winner. Worker-crash and
dev-server-restart faults are covered by tests/test_worker_crash.py and are
not yet counted here.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from approvals.platform import Faults, PlatformServer
from approvals.platform_client import PlatformClient, PlatformError

BOUND_SECONDS = 30.0


def _burst_5xx(faults: Faults) -> None:
    faults.create_status = random.choice([500, 502, 503])
    faults.create_body = random.choice([None, "<html>Bad gateway</html>"])


def _slow_reply(faults: Faults) -> None:
    faults.create_delay_seconds = 1.0 + random.random()


FAULTS: dict[str, Callable[[Faults], None]] = {
    "platform 5xx burst": _burst_5xx,
    "reply slower than client timeout": _slow_reply,
}


async def _one_run(server: PlatformServer, inject: Callable[[Faults], None]) -> tuple[int, bool]:
    workspace = f"ws-{uuid.uuid4()}"
    key = str(uuid.uuid4())
    inject(server.faults)
    heal_after = random.randint(1, 3)
    attempts = 0
    hung = False
    try:
        async with asyncio.timeout(BOUND_SECONDS), httpx.AsyncClient(timeout=0.5) as http:
            client = PlatformClient(http=http, base_url=server.url, workspace_id=workspace)
            while True:
                attempts += 1
                if attempts > heal_after:
                    server.faults.reset()
                try:
                    await client.create_approval("deploy", "fault run", idempotency_key=key)
                    break
                except PlatformError as error:
                    if not error.retryable:
                        break
                    await asyncio.sleep(0.05)
    except TimeoutError:
        hung = True
    server.faults.reset()
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


async def main(runs: int) -> int:
    rows = []
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
    header = ("fault", "runs", "lost", "duplicated", "hung")
    width = max(len(row[0]) for row in rows)
    print(f"| {header[0]:<{width}} | " + " | ".join(header[1:]) + " |")
    print(f"|{'-' * (width + 2)}|------|------|------------|------|")
    for name, n, lost, dup, hung in rows:
        print(f"| {name:<{width}} | {n:>4} | {lost:>4} | {dup:>10} | {hung:>4} |")
    return 1 if any(row[2] or row[3] or row[4] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)))
