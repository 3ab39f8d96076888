"""docs/policies/escalation.md's snippets: the Python block is examples/escalation_chain.py,
which runs for real (dev server, worker, platform) with a 1 s "hour"; the command line
parses under the real CLI into a valid request."""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

from durable_approvals.cli import build_parser
from durable_approvals.client import build_request
from durable_approvals.models import OnTimeout
from durable_approvals.settings import Settings
from tests.helpers import WORKSPACE, audit_records, running_worker
from tests.test_examples import example_env, run_example
from tests.test_readme import section_blocks

ROOT = Path(__file__).resolve().parent.parent
DOC = "docs/policies/escalation.md"


def test_the_python_block_is_the_example_file():
    [(info, body)] = [
        (info, body)
        for lang, info, body in section_blocks("An escalation chain", DOC)
        if lang == "python"
    ]
    path = info.split('"')[1]
    assert path == "examples/escalation_chain.py"
    assert body == (ROOT / path).read_text(encoding="utf-8")


def test_the_command_line_asks_with_the_same_policy():
    [(_, _, body)] = [b for b in section_blocks("An escalation chain", DOC) if b[0] == "bash"]
    argv = shlex.split(body)
    assert argv[0] == "approvals"
    args = build_parser().parse_args(argv[1:])
    request = build_request(
        Settings(workspace_id=WORKSPACE),
        args.action,
        args.reason,
        timeout=args.timeout,
        remind_every=args.remind_every,
        escalate_after=args.escalate_after,
        escalate_to=args.escalate_to,
        on_timeout=args.on_timeout,
        escalation_timeout=args.escalation_timeout,
    )
    assert (request.timeout_seconds, request.remind_every, request.escalate_after) == (
        14400,
        3600,
        7200,
    )
    assert request.on_timeout is OnTimeout.ESCALATE and request.total_timeout_seconds == 25200


async def test_the_example_runs_the_chain_to_its_timeout(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as task_queue:
        env = {**example_env(dev_env, settings, task_queue), "EXAMPLE_HOUR_SECONDS": "1"}
        printed = ast.literal_eval((await run_example("escalation_chain.py", env)).strip())

    assert printed["status"] == "timeout" and printed["escalated_to"] == "oncall-leads"
    assert printed["error"] == "Timed out after 7.0s waiting for human decision"
    records = audit_records(settings)
    assert [r["level"] for r in records if r["outcome"] == "escalated"] == [1, 2]
    assert [r["outcome"] for r in records][:: len(records) - 1] == ["requested", "timeout"]
    assert "reminded" in {r["outcome"] for r in records}
