"""The workflow sandbox the worker runs its workflows in (docs/internals.md, "The sandbox").

Temporal's sandbox executes a workflow's module again for every workflow run, in a fresh
namespace whose imports are restricted; everything else of ours is passed through already.
The worker's sandbox passes the workflow modules through too: a run then executes none of
our code and a cached workflow holds no copy of its module. The restrictions that the
re-execution enforced on the module's own code are enforced where every recorded history
replays (``temporalio.worker.Replayer``'s default sandbox, tests/test_replay.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

ALWAYS_PASSED_THROUGH = ("cryptography",)
"""Imported by native code while a workflow runs: cryptography's Rust code imports
``cryptography.exceptions`` when it first raises ``InvalidSignature`` (the proof check),
and a sandbox's fresh copy of it aborts the process (docs/internals.md). The default
sandbox gets it from the workflow module's ``imports_passed_through()`` block, which the
worker's sandbox no longer executes."""


def passing_through(workflows: Iterable[type]) -> SandboxedWorkflowRunner:
    """The default sandbox with the modules defining ``workflows`` (and cryptography) passed
    through."""
    modules = sorted({workflow_class.__module__ for workflow_class in workflows})
    modules.extend(ALWAYS_PASSED_THROUGH)
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*modules)
    return SandboxedWorkflowRunner(restrictions=restrictions)
