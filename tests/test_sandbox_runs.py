"""A workflow run in the worker's sandbox executes no module's code again, once the
worker is warm (docs/internals.md, "The sandbox"): an approval started, decided through
the listener and concluded loads nothing, of ours or of its libraries."""

from __future__ import annotations

import asyncio
import importlib.machinery

import pytest

from tests.helpers import platform_client, running_worker, start, wait_pending

pytestmark = pytest.mark.platform_modes("reference", "strict")


async def test_a_decided_approval_executes_no_module_again(
    dev_env, settings, platform, monkeypatch
):
    executed: list[str] = []
    original = importlib.machinery.SourceFileLoader.exec_module

    def exec_module(self: importlib.machinery.SourceFileLoader, module: object) -> None:
        executed.append(getattr(module, "__name__", "?"))
        original(self, module)  # type: ignore[arg-type]

    async with running_worker(dev_env.client, settings) as task_queue:
        for run in ("warm-up", "measured"):
            if run == "measured":
                monkeypatch.setattr(
                    importlib.machinery.SourceFileLoader, "exec_module", exec_module
                )
            handle = await start(dev_env.client, task_queue)
            approval_id = await wait_pending(handle)
            async with platform_client(settings) as api:
                await api.decide(approval_id, approved=True, decided_by="alice")
            assert (await asyncio.wait_for(handle.result(), 30)).approved
    assert executed == []
