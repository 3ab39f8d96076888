"""Counting lifecycle records in the worker's audit file: the cheap way to see "waiting".

Polling 10,000 workflows with queries would load the very server being measured;
the audit trail already says when each request was created and is waited on.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path


def count(path: Path, outcome: str) -> int:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return 0
    ids = {
        record["event_id"]
        for record in map(json.loads, filter(None, text.splitlines()))
        if record.get("outcome") == outcome
    }
    return len(ids)


async def wait_for(path: Path, outcome: str, total: int, limit: float) -> float:
    """Seconds until ``total`` records with ``outcome`` exist (read every 100 ms)."""
    began = time.perf_counter()
    async with asyncio.timeout(limit):
        while await asyncio.to_thread(count, path, outcome) < total:  # noqa: ASYNC110 - another process writes the file
            await asyncio.sleep(0.1)
    return time.perf_counter() - began
