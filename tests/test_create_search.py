"""The create searches the newest 50 for its marker only when an earlier attempt may
have made the request (docs/internals.md, "Create once"): not from a run's untried
first workflow task. A retried local activity searches (tests/test_approval_flow.py,
``test_retried_create_leaves_exactly_one_request``); a workflow task retried after
the worker died between the POST and the task's completion searches too
(tests/test_crash_stages.py, "create sent, reply lost", on both platform modes)."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from durable_approvals.activities.messages import CreateApprovalInput
from tests.helpers import (
    eventually,
    finish,
    platform_client,
    running_worker,
    start,
    wait_pending,
)

pytestmark = pytest.mark.platform_modes("reference", "strict")


class CreatesSeen(Interceptor):
    """Records (``may_exist``, attempt) of every create the worker runs."""

    def __init__(self) -> None:
        self.creates: list[tuple[bool, int]] = []

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Recording(next, self.creates)


class _Recording(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, creates: list[tuple[bool, int]]) -> None:
        super().__init__(next)
        self._creates = creates

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        request = input.args[0] if input.args else None
        if isinstance(request, CreateApprovalInput):
            self._creates.append((request.may_exist, activity.info().attempt))
        return await super().execute_activity(input)


async def test_an_untried_first_task_creates_without_searching(dev_env, settings, platform):
    seen = CreatesSeen()
    async with running_worker(dev_env.client, settings, interceptors=[seen]) as task_queue:
        handle = await start(dev_env.client, task_queue)
        approval_id = await wait_pending(handle)
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="alice")
            assert (await finish(handle, "created_unsearched")).approved
            assert [item["id"] for item in await api.list_approvals()] == [approval_id]
    assert seen.creates == [(False, 1)]


async def test_a_retried_create_searches(dev_env, settings, platform):
    """The first POST is stored, its reply lost to the client's timeout: the retry's
    attempt makes it search, and it finds the one request."""
    fast_timeout = settings.model_copy(update={"platform_http_timeout": 0.5})
    platform.faults.create_delay_seconds = 2.0
    seen = CreatesSeen()
    async with running_worker(dev_env.client, fast_timeout, interceptors=[seen]) as task_queue:
        handle = await start(dev_env.client, task_queue)
        async with platform_client(settings) as api:
            first = await eventually(api.list_approvals)
            platform.faults.create_delay_seconds = 0.0
            approval_id = await wait_pending(handle)
            assert [item["id"] for item in first] == [approval_id]
            assert len(await api.list_approvals()) == 1
    assert seen.creates[0] == (False, 1)
    assert len(seen.creates) > 1 and all(attempt > 1 for _, attempt in seen.creates[1:])
