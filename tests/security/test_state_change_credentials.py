"""Door 3 (issue 23): expire, remind and escalate change an approval's state, so they take
the worker's credential (the workspace token), never "no token configured". Verified
deciders without a workspace token are refused at start; an open platform says it is open.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from durable_approvals.devstack.platform.approvers import Approvers, token_hash
from durable_approvals.devstack.platform.server import PlatformServer
from tests.helpers import PLATFORM_TOKEN

WORKSPACE = "ws-doors"
BOB_TOKEN = "bob-secret-3"
ROUTES = {
    "remind": {"reminder": 1},
    "escalate": {"escalated_to": "mallory-group", "level": 1},
    "expire": {"reason": "gone"},
}


def _approvers(tmp_path: Path) -> Path:
    path = tmp_path / "approvers.yaml"
    path.write_text(
        f"approvers:\n  - {{name: bob, token_sha256: {token_hash(BOB_TOKEN)}}}\n", "utf-8"
    )
    return path


async def test_verified_deciders_need_the_workspace_token_to_expire_remind_escalate(
    tmp_path: Path,
) -> None:
    """Refused at start without a workspace token (library and command line); with one,
    neither no credential nor an approver's token expires, reminds or escalates."""
    approvers = _approvers(tmp_path)
    with pytest.raises(ValueError, match="needs a workspace token"):
        PlatformServer(tmp_path / "p.db", approvers=Approvers.load(approvers))
    env = {k: v for k, v in os.environ.items() if k != "PLATFORM_AUTH_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "durable_approvals.devstack.platform", "--port", "0",
         "--db", str(tmp_path / "p.db"), "--approvers", str(approvers)],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2 and "needs a workspace token" in done.stderr, done.stderr

    server = PlatformServer(
        tmp_path / "p.db", token=PLATFORM_TOKEN, approvers=Approvers.load(approvers)
    )
    auth = {"Authorization": f"Bearer {PLATFORM_TOKEN}"}
    async with server, httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        created = await http.post(
            f"/workspaces/{WORKSPACE}/approvals", json={"action": "drop"}, headers=auth
        )
        url = f"/workspaces/{WORKSPACE}/approvals/{created.json()['approval_id']}"
        refused = [
            (await http.post(f"{url}/{route}", json=body, headers=headers)).status_code
            for route, body in ROUTES.items()
            for headers in ({}, {"X-Approver-Token": BOB_TOKEN})
        ]
        item = (await http.get(url, headers=auth)).json()
        # Whether an approver token is valid is no answer for someone without the token.
        probe = await http.get("/signed-in", headers={"X-Approver-Token": BOB_TOKEN})
        taken = [
            (await http.post(f"{url}/{route}", json=body, headers=auth)).status_code
            for route, body in ROUTES.items()
        ]
    assert refused == [401] * 6 and probe.status_code == 401
    assert (item["status"], item.get("reminders") or 0, item.get("escalated_to")) == (
        "pending",
        0,
        None,
    )
    assert taken == [200, 200, 200]


async def test_an_open_platform_says_so_when_it_starts(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PLATFORM_AUTH_TOKEN"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "durable_approvals.devstack.platform",
        "--port",
        "0",
        "--db",
        str(tmp_path / "p.db"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None and process.stdout is not None
    try:
        async with asyncio.timeout(30):
            while b"listening" not in await process.stdout.readline():
                pass
            warning = await process.stderr.readline()
    finally:
        process.terminate()
        await process.wait()
    assert warning.startswith(b"WARNING: the platform runs open"), warning
