"""A new user's first hour: ``python -m durable_approvals.devstack`` (what ``scripts/stack.sh``
runs), then
every README "Asking and deciding" snippet pasted, as printed, into a new terminal in
which nothing is exported: the CLI lines, the two runnable examples, the ``temporal``
lines. The terminal is a directory holding the checkout's ``.venv`` and ``examples``
(links) and the ``approvals.env`` the stack writes, with only PATH, HOME and LANG set.

The stack takes Temporal's, the UI's and the platform's default ports when they are free,
as on a user's machine, so the README's ``temporal`` lines need no address; when they are
taken (another stack runs here) it takes free ports and only those lines get
TEMPORAL_ADDRESS, the variable the temporal CLI reads.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import socket
import uuid
from pathlib import Path

import httpx
import pytest

from tests.test_readme import section_blocks
from tests.test_stack import Stack, free_ports

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORTS = [7233, 8233, 8080]
WORKSPACE = "demo-workspace"  # the stack's default: no --workspace-id
STEP_SECONDS = 60

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _readme_lines(contains: str) -> list[str]:
    return [
        line.strip()
        for lang, _, body in section_blocks()
        if lang == "bash"
        for line in body.splitlines()
        if contains in line
    ]


def _readme_example_paths() -> list[str]:
    return [
        re.fullmatch(r'title="([^"]+)"', info)[1]  # type: ignore[index]
        for lang, info, _ in section_blocks()
        if lang == "python" and info
    ]


class Terminal:
    """A new terminal in the checkout: a clean environment, lines run by bash."""

    def __init__(self, directory: Path, home: Path) -> None:
        self.directory = directory
        self.env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
        }

    async def start(self, line: str, **extra_env: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            line,
            cwd=self.directory,
            env={**self.env, **extra_env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )

    async def run(self, line: str, **extra_env: str) -> tuple[int, str, str]:
        process = await self.start(line, **extra_env)
        out, err = await asyncio.wait_for(process.communicate(), STEP_SECONDS)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()


async def _wait(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(process.communicate(), STEP_SECONDS)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _new_pending(platform_url: str, seen: set[str], token: str) -> str:
    """The id of a pending approval of the workspace not in ``seen``, once there is one
    (``token``: the workspace token the stack generated)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=platform_url, timeout=5, headers=headers) as http:
        async with asyncio.timeout(STEP_SECONDS):
            while True:
                items = (await http.get(f"/workspaces/{WORKSPACE}/approvals")).json()
                fresh = [i["id"] for i in items if i["status"] == "pending" and i["id"] not in seen]
                if fresh:
                    seen.add(fresh[0])
                    return str(fresh[0])
                await asyncio.sleep(0.3)


async def test_every_snippet_works_in_a_new_terminal_after_the_stack(tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in (".venv", "examples"):
        (checkout / name).symlink_to(ROOT / name)
    terminal = Terminal(checkout, home=tmp_path)
    defaults = all(_free(port) for port in DEFAULT_PORTS)
    ports = DEFAULT_PORTS if defaults else free_ports(3)
    temporal_env = {} if defaults else {"TEMPORAL_ADDRESS": f"127.0.0.1:{ports[0]}"}
    cli = dict(
        zip(
            ("request", "list", "decide", "show"),
            _readme_lines(".venv/bin/approvals "),
            strict=True,
        )
    )
    assert all(shlex.split(line)[1] == command for command, line in cli.items())
    seen: set[str] = set()

    async with Stack(
        tmp_path / "data",
        ports=ports,
        settings_file=checkout / "approvals.env",
        workspace=None,
        env={**terminal.env, "PATH": f"{ROOT / '.venv' / 'bin'}:{terminal.env['PATH']}"},
    ) as stack:
        platform_url = f"http://127.0.0.1:{ports[2]}"
        banner = "".join(stack.output)
        assert f"{platform_url}/inbox?workspace={WORKSPACE}" in banner
        assert (checkout / "approvals.env").exists()
        token = (tmp_path / "data" / "workspace.token").read_text().strip()
        assert token not in banner  # the stack is closed by default; the token stays in files

        # The CLI lines, in the README's order; `request` waits in its own terminal.
        asking = await terminal.start(cli["request"])
        approval_id = await _new_pending(platform_url, seen, token)
        code, out, err = await terminal.run(cli["list"])
        assert code == 0 and approval_id in out, err
        decide = cli["decide"].replace("<approval_id>", approval_id)
        code, out, err = await terminal.run(decide)
        assert (code, out.strip()) == (0, f"approved {approval_id}: taken"), err
        code, out, err = await _wait(asking)
        assert code == 0 and f"approved by alice ({approval_id})" in out, err
        code, out, err = await terminal.run(cli["show"].replace("<approval_id>", approval_id))
        assert code == 0, err
        shown = json.loads(out)
        assert shown["platform"]["status"] == "approved"
        assert [r["outcome"] for r in shown["audit"]] == ["requested", "granted"]

        # The runnable examples: each waits until a human decides (here, the CLI).
        for example in [p for p in _readme_example_paths() if p != "examples/parent_workflow.py"]:
            running = await terminal.start(f".venv/bin/python {example}")
            example_id = await _new_pending(platform_url, seen, token)
            code, _, err = await terminal.run(
                cli["decide"].replace("<approval_id>", example_id).replace("alice", "bob")
            )
            assert code == 0, err
            code, out, err = await _wait(running)
            assert code == 0, err
            assert example_id in out and "bob" in out, out

        # Temporal's CLI on the workflow examples/ask.py started with its key.
        for line in _readme_lines(".venv/bin/temporal "):
            code, out, err = await terminal.run(line, **temporal_env)
            assert code == 0, err
            assert f"approval-{WORKSPACE}-drop-staging-db" in out or "approval_id" in out, out

        # An unknown approval id: one line naming it, exit 2.
        code, out, err = await terminal.run(
            cli["show"].replace("<approval_id>", f"missing-{uuid.uuid4().hex[:8]}")
        )
        assert code == 2 and err.startswith("approvals: unknown approval id"), err
        assert await stack.stop() == 0


async def test_without_the_stack_each_error_names_what_failed_and_the_setting(tmp_path):
    terminal = Terminal(tmp_path, home=tmp_path)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    closed = free_ports(2)
    code, _, err = await terminal.run('.venv/bin/approvals request "Drop the staging database"')
    assert code == 2 and "WORKSPACE_ID is not set" in err, err
    (tmp_path / "approvals.env").write_text(
        f"WORKSPACE_ID={WORKSPACE}\nTEMPORAL_ADDRESS=127.0.0.1:{closed[0]}\n"
        f"PLATFORM_URL=http://127.0.0.1:{closed[1]}\n"
    )
    code, _, err = await terminal.run(".venv/bin/approvals list")
    assert code == 2 and f"cannot reach Temporal at 127.0.0.1:{closed[0]}" in err, err
    assert "TEMPORAL_ADDRESS" in err
    code, _, err = await terminal.run(".venv/bin/approvals decide a-1 --approve --by alice")
    assert code == 2 and err.count("\n") == 1, err
    assert f"cannot reach the platform at http://127.0.0.1:{closed[1]} (PLATFORM_URL)" in err
    assert err.startswith("approvals: Failed to read approval"), err
    code, _, err = await terminal.run(
        f"APPROVAL_TIMEOUT=soon .venv/bin/python {ROOT / 'worker.py'}"
    )
    assert code == 2 and err.startswith("worker: invalid settings: Settings: approval_timeout")
