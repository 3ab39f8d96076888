"""Secrets stay out of the audit file and the worker's log; the platform token is sent
by the worker and enforced by the platform. A real ``python worker.py`` process, so the
log checked is the one an operator would read."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid

import pytest
from pydantic import SecretStr

from durable_approvals.devstack.platform import PlatformServer
from durable_approvals.models import ApprovalState, ApprovalStatus
from durable_approvals.settings import Settings
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import (
    WORKSPACE,
    approval_request,
    eventually,
    platform_client,
    spawn_worker,
    start,
    wait_pending,
)

SECRETS = {
    "openai": "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
    "anthropic": "sk-ant-api03-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe",
    "github_pat": "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "github_classic": "ghp_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "aws": "AKIA" + "IOSFODNN7EXAMPLE",
    "bearer": "Bearer " + "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlLXZhbHVl",
    "base64_admin": base64.b64encode(b"admin-token:Sup3r-S3cret-Value-42!").decode(),
    "private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7vQ9x\n"
    "-----END RSA PRIVATE KEY-----",
}


def secret_core(secret: str) -> str:
    """The part that must never appear, whatever label surrounds it."""
    return secret.removeprefix("Bearer ").splitlines()[1 if "PRIVATE KEY" in secret else 0]


async def test_secrets_in_action_reason_and_comment_never_reach_audit_or_logs(
    dev_env, settings, platform, tmp_path
):
    task_queue = f"tq-secrets-{uuid.uuid4()}"
    log = tmp_path / "worker.log"
    worker = spawn_worker(dev_env.client, settings, task_queue, log)
    try:
        handles = []
        for name, secret in SECRETS.items():
            request = approval_request(
                action=f"rotate the {name} key {secret}"[:500],
                reason=f"it leaked: {secret}",
            )
            handles.append(await start(dev_env.client, task_queue, request))
        async with platform_client(settings) as api:
            for handle, secret in zip(handles, SECRETS.values(), strict=True):
                approval_id = await wait_pending(handle, timeout=60)
                await api.decide(
                    approval_id, approved=True, decided_by="sec-ops", comment=f"ok {secret}"
                )
        results = [await asyncio.wait_for(h.result(), 60) for h in handles]
    finally:
        worker.terminate()
        await asyncio.to_thread(worker.wait, 20)

    assert all(r.status is ApprovalStatus.GRANTED for r in results)
    audit_text = settings.audit_log_path.read_text(encoding="utf-8")
    log_text = log.read_text(encoding="utf-8", errors="replace")
    assert audit_text.count('"outcome": "granted"') == len(SECRETS)
    assert "***REDACTED***" in audit_text
    leaked = {
        name: where
        for name, secret in SECRETS.items()
        for where, text in (("audit", audit_text), ("log", log_text))
        if secret_core(secret) in text
    }
    assert leaked == {}
    assert os.stat(settings.audit_log_path).st_mode & 0o777 == 0o600


TOKEN = "ws-token-" + "Q7r8S9t0U1v2W3x4"


@pytest.fixture
async def guarded_platform(tmp_path):
    server = PlatformServer(tmp_path / "guarded.db", token=TOKEN)
    await server.start()
    yield server
    await server.stop()


def settings_for(settings: Settings, platform: PlatformServer, token: str | None) -> Settings:
    secret = SecretStr(token) if token else None
    return settings.model_copy(update={"platform_url": platform.url, "workspace_token": secret})


async def run_one(dev_env, settings, platform, log, token: str):
    """One approval through a worker process that holds ``token``; decided with the real one."""
    task_queue = f"tq-token-{uuid.uuid4()}"
    worker = spawn_worker(
        dev_env.client,
        settings_for(settings, platform, None),
        task_queue,
        log,
        WORKSPACE_TOKEN=token,
    )
    try:
        handle = await start(dev_env.client, task_queue)
        view = await eventually(lambda: _started(handle), timeout=60)
        if view.approval_id is not None:
            async with platform_client(settings_for(settings, platform, TOKEN)) as api:
                await eventually(lambda: _true(platform.hub.connection_count(WORKSPACE) == 1))
                await api.decide(view.approval_id, approved=True, decided_by="ops")
        return await asyncio.wait_for(handle.result(), 60)
    finally:
        worker.terminate()
        await asyncio.to_thread(worker.wait, 20)


async def _started(handle):
    view = await handle.query(ApprovalWorkflow.status)
    return view if view.state is not ApprovalState.CHECKING else None


async def _true(value: bool) -> bool:
    return value


async def test_the_worker_sends_the_token_everywhere_and_never_logs_it(
    dev_env, settings, guarded_platform, tmp_path
):
    log = tmp_path / "worker.log"
    result = await run_one(dev_env, settings, guarded_platform, log, TOKEN)

    assert result.status is ApprovalStatus.GRANTED  # create, socket and reads all authorized
    assert result.decided_by == "ops"
    assert TOKEN not in log.read_text(encoding="utf-8", errors="replace")
    assert TOKEN not in settings.audit_log_path.read_text(encoding="utf-8")


async def test_a_wrong_token_is_refused_and_changes_nothing(
    dev_env, settings, guarded_platform, tmp_path
):
    """The worker probes the platform at start: a refused token stops it with one line."""
    log = tmp_path / "worker.log"
    wrong = "ws-token-" + "WRONG0wrong1WRONG"
    worker = spawn_worker(
        dev_env.client,
        settings_for(settings, guarded_platform, None),
        f"tq-token-{uuid.uuid4()}",
        log,
        WORKSPACE_TOKEN=wrong,
    )
    status = await asyncio.to_thread(worker.wait, 60)
    output = log.read_text(encoding="utf-8", errors="replace")

    assert status == 2
    assert "refused WORKSPACE_TOKEN (401)" in output
    assert wrong not in output
    assert guarded_platform.store.count() == 0


@pytest.mark.parametrize("token", [None, "open-platform-token"])
async def test_a_worker_without_a_token_refuses_a_platform_that_requires_one(
    dev_env, settings, guarded_platform, platform, tmp_path, token
):
    """No token against a guarded platform: exit 2, one line naming the setting. No token
    against an open one: the worker starts, with a warning."""
    log = tmp_path / "worker.log"
    target = guarded_platform if token is None else platform
    env = {"WORKSPACE_TOKEN": ""}
    worker = spawn_worker(
        dev_env.client,
        settings_for(settings, target, None),
        f"tq-token-{uuid.uuid4()}",
        log,
        **env,
    )
    try:
        if token is None:
            status = await asyncio.to_thread(worker.wait, 60)
            output = log.read_text(encoding="utf-8", errors="replace")
            assert status == 2
            assert "requires a token (401): set WORKSPACE_TOKEN" in output
        else:
            await eventually(
                lambda: _true("no WORKSPACE_TOKEN" in log.read_text(encoding="utf-8")),
                timeout=60,
            )
            assert worker.poll() is None
    finally:
        worker.terminate()
        await asyncio.to_thread(worker.wait, 20)
