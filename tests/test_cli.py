"""The ``approvals`` console script as a real subprocess against the real dev server,
platform and a worker: exit codes, the live waiting line, decide, list and show, and
output to a reader that has already gone away."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from durable_approvals.settings import Settings
from tests.helpers import eventually, platform_client, running_worker, settings_env

CLI = str(Path(sys.executable).parent / "approvals")


def cli_env(dev_env, settings: Settings, task_queue: str) -> dict[str, str]:
    return {**settings_env(dev_env.client, settings, task_queue), "APPROVAL_POLL_INTERVAL": "0.2"}


async def cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        CLI, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def cli_into_closed_pipe(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run the CLI with stdout a pipe whose reader has gone (``approvals list | head -0``)."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        process = await asyncio.create_subprocess_exec(
            CLI, *args, env=env, stdout=writer, stderr=asyncio.subprocess.PIPE
        )
    finally:
        os.close(writer)
    _, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, err.decode()


async def pending_id(settings: Settings) -> str | None:
    async with platform_client(settings) as api:
        items = [i["id"] for i in await api.list_approvals() if i["status"] == "pending"]
    return items[0] if items else None


async def test_request_exits_by_outcome_and_show_lists_the_trail(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as task_queue:
        env = cli_env(dev_env, settings, task_queue)
        for flag, code in (("--approve", 0), ("--deny", 1)):
            asking = asyncio.create_task(cli(env, "request", "Drop db", "--reason", "rebuild"))
            approval_id = await eventually(lambda: pending_id(settings), timeout=60)
            assert (await cli(env, "list", "--pending"))[1].count(approval_id) == 1
            decided = await cli(env, "decide", approval_id, flag, "--by", "alice")
            assert decided[0] == 0, decided
            status, out, err = await asyncio.wait_for(asking, 120)
            assert status == code, (out, err)
            assert f"waiting for approval {approval_id}: elapsed" in out
            assert "time left" in out and "by alice" in out

            again = await cli(env, "decide", approval_id, "--approve", "--by", "bob")
            assert again == (3, f"refused {approval_id}: conflicting\n", "")

            status, out, _ = await cli(env, "show", approval_id)
            assert status == 0, out
            shown = json.loads(out)
            assert shown["platform"]["id"] == approval_id
            assert (shown["status"]["state"], shown["workflow_status"]) == ("decided", "COMPLETED")
            assert [r["outcome"] for r in shown["audit"]] == [
                "requested",
                "granted" if code == 0 else "denied",
            ]

        status, out, _ = await cli(env, "request", "Drop db", "--timeout", "1")
        assert status == 2

        missing = await cli(env, "show", "no-such-approval")
        assert missing[0] != 0 and "unknown approval id" in missing[2]
        listed = await cli(env, "list")
        assert listed[0] == 0 and len(listed[1].splitlines()) >= 3
        assert await cli_into_closed_pipe(env, "list") == (0, "")  # no "Broken pipe", no traceback


async def test_errors_are_one_line(settings, tmp_path):
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
        "PLATFORM_URL": "http://127.0.0.1:1",
        "WORKSPACE_ID": "ws",
    }
    for args in (("list",), ("request", "x"), ("decide", "a1", "--approve", "--by", "x")):
        status, _, err = await cli(env, *args)
        assert status == 2 and len(err.strip().splitlines()) == 1, err


async def test_help_into_a_closed_pipe_exits_quietly():
    for args in (("--help",), ("request", "--help"), ("list", "--help")):
        assert await cli_into_closed_pipe(dict(os.environ), *args) == (0, ""), args
