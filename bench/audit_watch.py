"""Reading lifecycle records as a worker appends them: the cheap way to see "waiting".

Querying 10,000 workflows would load the very server being measured; the
worker's audit trail already says when each request was created (``requested``,
with its approval id) and decided (``granted``/``denied``). The floor shape's
worker writes the same two outcomes to its own file (:mod:`bench.floor`).

The file is read incrementally: each read parses only the lines appended since
the last one, so watching 20,000 approvals stays cheap for the driver.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path

DECIDED = ("granted", "denied")


class AuditTail:
    """The records of one JSON Lines file, by outcome, keyed by workflow id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self.requested: dict[str, str] = {}  # workflow id → approval id
        self.decided: dict[str, str] = {}  # workflow id → decided_by
        self.first_seen: dict[tuple[str, str], float] = {}  # (workflow id, outcome) → monotonic

    def read(self) -> None:
        try:
            with self.path.open("rb") as file:
                file.seek(self._offset)
                chunk = file.read()
        except FileNotFoundError:
            return
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()  # an unfinished last line, or b""
        now = time.monotonic()
        for line in filter(None, lines):
            record = json.loads(line)
            workflow_id = str(record["event_id"]).rsplit("/", 2)[0]
            outcome = str(record.get("outcome"))
            if outcome == "requested":
                self.requested[workflow_id] = str(record.get("approval_id"))
            elif outcome in DECIDED:
                self.decided[workflow_id] = str(record.get("decided_by"))
            self.first_seen.setdefault((workflow_id, outcome), now)

    async def wait(self, done: Callable[[AuditTail], bool], limit: float) -> float:
        """Seconds until ``done(self)`` holds (the file is read every 100 ms); at most ``limit``."""
        began = time.perf_counter()
        async with asyncio.timeout(limit):
            while True:
                await asyncio.to_thread(self.read)
                if done(self):
                    return time.perf_counter() - began
                await asyncio.sleep(0.1)


def requested_of(ids: Iterable[str]) -> Callable[[AuditTail], bool]:
    wanted = set(ids)
    return lambda tail: wanted <= tail.requested.keys()


def decided_of(ids: Iterable[str]) -> Callable[[AuditTail], bool]:
    wanted = set(ids)
    return lambda tail: wanted <= tail.decided.keys()
