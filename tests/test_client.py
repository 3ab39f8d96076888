"""request_approval on the real dev server: one platform request per key, same answer."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.service import TLSConfig

from durable_approvals.client import request_approval, start_approval
from durable_approvals.connection import ConnectionSettingsError, tls_config
from durable_approvals.models import ApprovalStatus
from durable_approvals.settings import Settings
from tests.helpers import eventually, platform_client, running_worker, wait_pending


async def pending_ids(settings: Settings) -> list[str]:
    async with platform_client(settings) as api:
        return [item["id"] for item in await api.list_approvals() if item["status"] == "pending"]


async def test_same_key_attaches_while_pending_and_after_completion(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as task_queue:
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        ask = lambda: request_approval(  # noqa: E731
            "Rotate the keys",
            "Quarterly",
            key="rotate-1",
            timeout=60,
            settings=settings,
            client=dev_env.client,
        )
        first, second = asyncio.create_task(ask()), asyncio.create_task(ask())
        [approval_id] = await eventually(lambda: pending_ids(settings))
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="alice")
        one, two = await asyncio.gather(first, second)
        three = await ask()  # after completion: the recorded answer, no new request

        async with platform_client(settings) as api:
            items = await api.list_approvals()
    assert one == two == three
    assert one.status is ApprovalStatus.GRANTED and one.approval_id == approval_id
    assert [item["id"] for item in items] == [approval_id]


async def test_without_key_each_call_is_a_new_request(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as task_queue:
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        handles = [
            await start_approval(dev_env.client, settings, "Deploy", "Release", timeout=60)
            for _ in range(2)
        ]
        ids = [await wait_pending(handle) for handle in handles]
        async with platform_client(settings) as api:
            for approval_id in ids:
                await api.decide(approval_id, approved=False, decided_by="bob")
        results = [await handle.result() for handle in handles]
    assert len(set(ids)) == 2 and {h.id for h in handles} != {handles[0].id}
    assert all(r.status is ApprovalStatus.DENIED for r in results)


def test_tls_config_from_settings(tmp_path):
    for name in ("cert", "key", "ca"):
        (tmp_path / name).write_bytes(f"{name}-bytes".encode())
    plain = Settings(workspace_id="w")
    assert tls_config(plain) is False
    assert tls_config(Settings(workspace_id="w", temporal_api_key="k")) is True
    mtls = tls_config(
        Settings(
            workspace_id="w",
            temporal_tls_cert=tmp_path / "cert",
            temporal_tls_key=tmp_path / "key",
            temporal_tls_ca=tmp_path / "ca",
        )
    )
    assert isinstance(mtls, TLSConfig)
    assert (mtls.client_cert, mtls.client_private_key, mtls.server_root_ca_cert) == (
        b"cert-bytes",
        b"key-bytes",
        b"ca-bytes",
    )
    with pytest.raises(ConnectionSettingsError, match="go together"):
        tls_config(Settings(workspace_id="w", temporal_tls_cert=tmp_path / "cert"))
    with pytest.raises(ConnectionSettingsError, match="unreadable"):
        tls_config(Settings(workspace_id="w", temporal_tls_ca=tmp_path / "missing"))
