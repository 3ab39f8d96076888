"""What Temporal's sandbox executes again for every workflow run (docs/internals.md, "The
sandbox"). The default sandbox, which the replay tests keep: the workflow's own module and
its two package parents, nothing else of ours; a collaborator imported as ``from package
import module`` would be executed again on every run, although it is inside
``imports_passed_through()``. The worker's sandbox: nothing of ours; and once the worker is
warm, an approval started, decided through the listener and concluded loads no module at
all, of ours or of its libraries."""

from __future__ import annotations

import asyncio
import importlib.machinery
from collections.abc import Iterator

import pytest
from temporalio import workflow
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from durable_approvals.sandbox import passing_through
from durable_approvals.worker import WORKFLOWS
from durable_approvals.workflows.approval import ApprovalWorkflow
from durable_approvals.workflows.listener import WorkspaceListenerWorkflow
from tests.helpers import platform_client, running_worker, start, wait_pending

PARENTS = {"durable_approvals", "durable_approvals.workflows"}


@pytest.fixture
def executed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the modules executed from source or bytecode meanwhile."""
    names: list[str] = []
    loader = importlib.machinery.SourceFileLoader
    original = loader.exec_module

    def exec_module(self: importlib.machinery.SourceFileLoader, module: object) -> None:
        names.append(getattr(module, "__name__", "?"))
        original(self, module)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "exec_module", exec_module)
    yield names


@pytest.mark.parametrize("cls", [ApprovalWorkflow, WorkspaceListenerWorkflow])
def test_a_run_executes_only_the_workflow_module_of_ours(cls: type, executed: list[str]) -> None:
    ours = modules_of_ours_per_run(SandboxedWorkflowRunner(), cls, executed)
    assert ours == PARENTS | {cls.__module__}


@pytest.mark.parametrize("cls", WORKFLOWS)
def test_in_the_workers_sandbox_a_run_executes_nothing_of_ours(
    cls: type, executed: list[str]
) -> None:
    assert modules_of_ours_per_run(passing_through(WORKFLOWS), cls, executed) == set()


def modules_of_ours_per_run(
    runner: SandboxedWorkflowRunner, cls: type, executed: list[str]
) -> set[str]:
    """The modules of ours that ``runner`` executes for a second run of ``cls``."""
    definition = workflow._Definition.must_from_class(cls)

    async def two_runs() -> None:  # the sandbox needs a running loop
        runner.prepare_workflow(definition)
        executed.clear()
        runner.prepare_workflow(definition)

    asyncio.run(two_runs())
    return {name for name in executed if name.split(".")[0] == "durable_approvals"}


@pytest.mark.platform_modes("reference", "strict")
async def test_a_decided_approval_executes_no_module_again(
    dev_env, settings, platform, executed: list[str]
):
    async with running_worker(dev_env.client, settings) as task_queue:
        for _warm_up_then_measured in range(2):
            executed.clear()  # what the warm-up loaded does not count
            handle = await start(dev_env.client, task_queue)
            approval_id = await wait_pending(handle)
            async with platform_client(settings) as api:
                await api.decide(approval_id, approved=True, decided_by="alice")
            assert (await asyncio.wait_for(handle.result(), 30)).approved
    assert executed == []
