"""``python -m durable_approvals.devstack --verified-deciders``: the stack creates demo
approvers and a
signing key, the platform signs what they decide, and the workspace takes only signed
decisions (docs/trust-model.md); a later start without the option is refused."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

from durable_approvals.models import ApprovalStatus, Decision
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import approval_request, wait_pending
from tests.test_stack import ROOT, WORKSPACE, Stack, free_ports

CLI = str(Path(sys.executable).parent / "approvals")


async def run(cwd: Path, *argv: str) -> tuple[int, str, str]:
    """A command in ``cwd`` with a clean environment (the settings come from approvals.env)."""
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "APPROVALS_ENV_FILE": "approvals.env"}
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_only_signed_decisions_of_the_demo_approvers_count(tmp_path):
    data_dir = tmp_path / "data"
    token_file = data_dir / "approvers" / "alice.token"
    async with Stack(data_dir, extra_args=("--verified-deciders",)) as stack:
        banner = "".join(stack.output)
        token = token_file.read_text().strip()
        client = await stack.client()
        handle = await client.start_workflow(
            ApprovalWorkflow.run,
            approval_request(workspace_id=WORKSPACE),
            id=f"stack-verified-{uuid.uuid4()}",
            task_queue="approvals",
        )
        approval_id = await wait_pending(handle, timeout=30)
        unsigned = await run(data_dir, CLI, "decide", approval_id, "--approve", "--by", "alice")
        await handle.signal(  # a name typed into a signal carries no proof
            ApprovalWorkflow.decide,
            Decision(approval_id=approval_id, approved=True, decided_by="alice"),
        )
        signed = await run(
            data_dir, CLI, "decide", approval_id, "--approve", "--token-file", str(token_file)
        )
        result = await asyncio.wait_for(handle.result(), 30)
        assert await stack.stop() == 0

    assert str(token_file) in banner and token not in banner
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert unsigned[0] != 0 and "set APPROVER_TOKEN or pass --token-file" in unsigned[2], unsigned
    assert signed[0] == 0, signed
    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "alice"
    audit_text = (data_dir / "audit.jsonl").read_text()
    records = [json.loads(line) for line in audit_text.splitlines()]
    steps = [(r["outcome"], r.get("rejected_because"), r.get("verified")) for r in records]
    assert steps == [
        ("requested", None, None),
        ("rejected", "unverified", None),
        ("granted", None, True),
    ]
    logs = "".join(p.read_text(errors="replace") for p in (data_dir / "logs").iterdir())
    assert token not in audit_text and token not in logs


async def test_a_workspace_that_requires_proof_needs_the_option(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "config.yaml").write_text("require_verified_deciders: true\n")
    temporal, ui, platform = free_ports(3)
    argv = [sys.executable, "-m", "devstack", "--data-dir", str(data_dir)]
    argv += ["--settings-file", str(data_dir / "approvals.env")]
    argv += ["--temporal-port", str(temporal), "--ui-port", str(ui)]
    argv += ["--platform-port", str(platform)]
    code, _, err = await run(ROOT, *argv)

    assert code == 1
    assert "requires verified deciders: start the stack with --verified-deciders" in err
    assert not (data_dir / "logs").exists()  # refused before anything started


async def test_the_option_never_overrides_a_config_that_does_not_require_proof(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    config = data_dir / "config.yaml"
    config.write_text("rbac:\n  roles: [operator]\n")
    temporal, ui, platform = free_ports(3)
    argv = [sys.executable, "-m", "devstack", "--data-dir", str(data_dir)]
    argv += ["--temporal-port", str(temporal), "--ui-port", str(ui)]
    argv += ["--platform-port", str(platform), "--verified-deciders"]
    argv += ["--settings-file", str(data_dir / "approvals.env")]
    code, _, err = await run(ROOT, *argv)

    assert code == 1 and "does not set 'require_verified_deciders: true'" in err
    assert config.read_text() == "rbac:\n  roles: [operator]\n"
