"""README's first command: ``python -m durable_approvals.devstack`` brings up a Temporal dev server
on a SQLite file, the platform and a worker; an approval goes through it; Ctrl-C stops
every child; a second run finds the earlier workflow and approval."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import sys
import uuid
from pathlib import Path

import httpx
import psutil
from temporalio.client import Client, WorkflowExecutionStatus

from durable_approvals.converter import data_converter
from durable_approvals.models import ApprovalStatus
from durable_approvals.platform_client import PlatformClient
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import approval_request, wait_pending

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = "stack-test"


def free_ports(count: int) -> list[int]:
    """Free ports outside the kernel's ephemeral range.

    A port picked with ``bind(0)`` comes from the ephemeral range, where the
    suite's own outgoing connections may take it before the server binds it.
    """
    low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    candidates = [p for p in range(20_000, 32_000) if not low <= p <= high] or list(
        range(20_000, 32_000)
    )
    ports: list[int] = []
    for port in random.sample(candidates, 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == count:
            return ports
    raise RuntimeError("no free ports")


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Stack:
    """``python -m durable_approvals.devstack`` as a user runs it, on ``ports``
    (temporal, UI, platform) and a free metrics port."""

    def __init__(
        self,
        data_dir: Path,
        *,
        ports: list[int] | None = None,
        settings_file: Path | None = None,
        workspace: str | None = WORKSPACE,
        env: dict[str, str] | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.temporal_port, self.ui_port, self.platform_port = ports or free_ports(3)
        # Not the stack's pick (9464 or the next free): stacks started side by side
        # would each see it free and the second worker would fail to bind it.
        (self.metrics_port,) = free_ports(1)
        self.data_dir = data_dir
        self.settings_file = settings_file or data_dir / "approvals.env"
        self.workspace = workspace
        self.env = env
        self.extra_args = extra_args
        self.process: asyncio.subprocess.Process | None = None
        self.output: list[str] = []

    async def __aenter__(self) -> Stack:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "devstack",
            "--data-dir",
            str(self.data_dir),
            *(["--workspace-id", self.workspace] if self.workspace else []),
            "--settings-file",
            str(self.settings_file),
            "--temporal-port",
            str(self.temporal_port),
            "--ui-port",
            str(self.ui_port),
            "--platform-port",
            str(self.platform_port),
            "--metrics-port",
            str(self.metrics_port),
            *self.extra_args,
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert self.process.stdout is not None
        async with asyncio.timeout(90):
            while ".venv/bin/approvals request" not in "".join(
                self.output
            ):  # the banner's last line
                line = await self.process.stdout.readline()
                assert line, f"stack exited early: {''.join(self.output)}"
                self.output.append(line.decode())
        return self

    async def stop(self) -> int:
        assert self.process is not None and self.process.stdout is not None
        self.process.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            rest = await self.process.stdout.read()
            self.output.append(rest.decode())
            return await self.process.wait()

    async def __aexit__(
        self, exc_type: object, error: BaseException | None, traceback: object
    ) -> None:
        """Stop as Ctrl-C does, so that the stack stops its children (each in a session of
        its own: killing the stack alone would leave them running); kill only if it hangs.
        A failed test gets the stack's output as a note: a component that exited says why."""
        if self.process is None:
            return
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.process.wait(), 60)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if error is not None:
            error.add_note(f"the stack's output:\n{await self.rest_of_output()}")

    async def rest_of_output(self) -> str:
        """Everything the stack printed, once it has exited."""
        assert self.process is not None and self.process.stdout is not None
        try:
            rest = await asyncio.wait_for(self.process.stdout.read(), 5)
        except TimeoutError:  # a grandchild still holds the pipe
            rest = b""
        self.output.append(rest.decode(errors="replace"))
        return "".join(self.output)

    async def client(self) -> Client:
        return await Client.connect(
            f"127.0.0.1:{self.temporal_port}", data_converter=data_converter
        )


async def test_stack_runs_an_approval_stops_cleanly_and_keeps_state(tmp_path):
    data_dir = tmp_path / "data"
    workflow_id = f"stack-{uuid.uuid4()}"
    async with Stack(data_dir) as stack:
        client = await stack.client()
        handle = await client.start_workflow(
            ApprovalWorkflow.run,
            approval_request(workspace_id=WORKSPACE),
            id=workflow_id,
            task_queue="approvals",
        )
        approval_id = await wait_pending(handle, timeout=30)
        token = (data_dir / "workspace.token").read_text().strip()  # generated: closed
        async with httpx.AsyncClient(timeout=5.0) as http:
            api = PlatformClient(
                http=http,
                base_url=f"http://127.0.0.1:{stack.platform_port}",
                workspace_id=WORKSPACE,
                token=token,
            )
            await api.decide(approval_id, approved=False, decided_by="ops", comment="not now")
        result = await asyncio.wait_for(handle.result(), 30)
        exit_code = await stack.stop()
        output = "".join(stack.output)
        ports = (stack.temporal_port, stack.ui_port, stack.platform_port)

    assert result.status is ApprovalStatus.DENIED and result.decided_by == "ops"
    assert exit_code == 0, output
    for name in ("stopped worker", "stopped platform", "stopped temporal"):
        assert name in output
    assert not any(port_open(port) for port in ports)
    assert (data_dir / "temporal.db").exists() and (data_dir / "audit.jsonl").exists()

    async with Stack(data_dir) as again:
        client = await again.client()
        description = await client.get_workflow_handle(workflow_id).describe()
        assert (data_dir / "workspace.token").read_text().strip() == token  # kept
        async with httpx.AsyncClient(timeout=5.0) as http:
            api = PlatformClient(
                http=http,
                base_url=f"http://127.0.0.1:{again.platform_port}",
                workspace_id=WORKSPACE,
                token=token,
            )
            item = await api.get_approval(approval_id)
        assert await again.stop() == 0

    assert description.status is WorkflowExecutionStatus.COMPLETED
    assert item is not None and item["status"] == "denied"


def child_pid(parent: int, module: str) -> int:
    """The pid of ``parent``'s child that runs ``python -m module``."""
    for child in psutil.Process(parent).children():
        with contextlib.suppress(psutil.NoSuchProcess):
            if module in child.cmdline():
                return child.pid
    raise LookupError(f"no child of {parent} runs {module}")


async def test_a_component_that_exits_is_named_with_its_log_and_stops_the_rest(tmp_path):
    async with Stack(tmp_path / "data") as stack:
        assert stack.process is not None
        worker = child_pid(stack.process.pid, "durable_approvals.worker")
        os.kill(worker, signal.SIGKILL)
        exit_code = await asyncio.wait_for(stack.process.wait(), 60)  # by itself
        output = await stack.rest_of_output()
        ports = (stack.temporal_port, stack.ui_port, stack.platform_port)

    assert exit_code == 1, output
    assert f"stack: worker exited with status -{signal.SIGKILL}" in output
    assert str(tmp_path / "data" / "logs" / "worker.log") in output
    for name in ("stopped platform", "stopped temporal"):
        assert name in output
    assert not any(port_open(port) for port in ports)
