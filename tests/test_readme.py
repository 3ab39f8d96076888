"""Every snippet of README's "Asking and deciding" section is exercised.

Python blocks carry ``title="examples/..."`` and must equal that file, which
tests/test_examples.py runs; ``approvals`` lines must parse under the real CLI
(tests/test_cli.py runs the same commands); ``temporal workflow`` lines run
against the dev server on a workflow started with the README's key; the cluster
exports (docs/operations.md, linked from README) must build the TLS config they promise
(the search-attribute command beside them is tests/test_compose.py's). Quick start's two
commands are the ones CI and the stack run; tests/test_first_hour.py runs every snippet
through the stack in a clean terminal.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
from pathlib import Path

from durable_approvals.cli import build_parser
from durable_approvals.client import start_approval
from durable_approvals.connection import tls_config
from durable_approvals.settings import Settings
from tests.helpers import running_worker, wait_pending

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"```(\w+)([^\n]*)\n(.*?)```", re.DOTALL)


def section_blocks(
    title: str = "Asking and deciding", document: str = "README.md"
) -> list[tuple[str, str, str]]:
    text = (ROOT / document).read_text(encoding="utf-8")
    section = text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    return [(m[1], m[2].strip(), m[3]) for m in BLOCK.finditer(section)]


def test_quick_start_commands_are_what_ci_and_the_stack_run():
    [(lang, _, body)] = section_blocks("Quick start")
    commands = [line.split("#", 1)[0].strip() for line in body.splitlines()]
    assert lang == "bash" and commands == ["bash scripts/stack.sh", "bash scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == "bash scripts/test.sh"
    assert "python -m durable_approvals.devstack" in (ROOT / "scripts" / "stack.sh").read_text(
        encoding="utf-8"
    )


def shell_lines(contains: str) -> list[list[str]]:
    return [
        shlex.split(line, comments=True)
        for lang, _, body in section_blocks()
        if lang == "bash"
        for line in body.splitlines()
        if contains in line
    ]


def test_python_snippets_are_the_example_files():
    titled = [(info, body) for lang, info, body in section_blocks() if lang == "python"]
    assert len(titled) == 3
    for info, body in titled:
        path = re.fullmatch(r'title="([^"]+)"', info)
        assert path, info
        assert body == (ROOT / path[1]).read_text(encoding="utf-8")


def test_cli_lines_parse_under_the_cli():
    parser = build_parser()
    lines = shell_lines("approvals ")
    assert {line[1] for line in lines} >= {"request", "list", "decide", "show"}
    for argv in lines:
        args = [arg.replace("<approval_id>", "a-1") for arg in argv[1:]]
        parsed = parser.parse_args(args)  # exits on unknown options or missing arguments
        assert parsed.command == args[0]


def test_cluster_exports_build_the_tls_config(tmp_path, monkeypatch):
    exports = [
        shlex.split(line, comments=True)
        for lang, _, body in section_blocks("On a Temporal cluster", "docs/operations.md")
        if lang == "bash"
        for line in body.splitlines()
        if "export " in line
    ]
    assert len(exports) == 2
    for argv in exports:
        for assignment in argv[1:]:
            name, value = assignment.split("=", 1)
            if name.startswith("TEMPORAL_TLS_"):
                (tmp_path / value).write_bytes(b"pem")
                value = str(tmp_path / value)
            monkeypatch.setenv(name, value)
    settings = Settings()
    config = tls_config(settings)
    assert settings.temporal_namespace == "my-ns.a1b2c"
    assert not isinstance(config, bool) and config.client_cert == b"pem"


async def test_temporal_cli_lines_run_on_the_dev_server(dev_env, settings, platform):
    settings = settings.model_copy(update={"workspace_id": "demo-workspace"})
    lines = shell_lines("temporal workflow")
    assert {line[2] for line in lines} == {"describe", "query"}
    async with running_worker(dev_env.client, settings) as task_queue:
        settings = settings.model_copy(update={"temporal_task_queue": task_queue})
        handle = await start_approval(
            dev_env.client, settings, "Drop", "rebuild", key="drop-staging-db", timeout=60
        )
        approval_id = await wait_pending(handle)
        for argv in lines:
            process = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "temporal"),
                *argv[1:],
                "--address",
                dev_env.client.service_client.config.target_host,
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode == 0
            assert handle.id in out.decode() or approval_id in out.decode()
        await handle.cancel()
