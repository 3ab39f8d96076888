"""The house rules a reader checks first: the import graph and what each install pulls.

- Packages import one way: ``approvals`` (the agent/approver library) imports
  none of ours; ``activities`` imports ``approvals``; ``workflows`` imports both;
  ``worker`` all three; ``devstack`` (reference platform, dev stack) only the
  library. Nothing shipped imports ``devstack``, ``tests`` or ``bench``.
- ``pip install durable-approvals`` without extras resolves to the Temporal SDK,
  pydantic and httpx and their own dependencies: no web server, no WebSocket
  client, no YAML parser, no CLI framework, no agent framework.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"approvals", "activities", "workflows", "worker", "devstack", "tests", "bench", "examples"}
ALLOWED: dict[str, set[str]] = {
    "approvals": {"approvals"},
    "activities": {"activities", "approvals"},
    "workflows": {"workflows", "activities", "approvals"},
    "worker": {"worker", "workflows", "activities", "approvals"},
    "devstack": {"devstack", "approvals"},
}
# What an agent-only install may pull: the SDK, pydantic, httpx and their dependencies.
AGENT_INSTALL = {
    "durable-approvals",
    "temporalio",
    "nexus-rpc",
    "protobuf",
    "types-protobuf",
    "typing-extensions",
    "pydantic",
    "pydantic-core",
    "pydantic-settings",
    "python-dotenv",
    "annotated-types",
    "typing-inspection",
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "sniffio",
    "idna",
    "certifi",
}


def _package_of(path: Path) -> str:
    relative = path.relative_to(ROOT)
    return relative.parts[0].removesuffix(".py")


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


def _shipped_modules() -> list[Path]:
    modules = [ROOT / "worker.py"]
    for package in ("approvals", "activities", "workflows", "devstack"):
        modules.extend(sorted((ROOT / package).rglob("*.py")))
    return modules


def test_packages_import_one_way():
    wrong = {
        f"{path.relative_to(ROOT)} imports {sorted(imported - ALLOWED[_package_of(path)])}"
        for path in _shipped_modules()
        if (imported := _imported_packages(path)) - ALLOWED[_package_of(path)]
    }
    assert not wrong, "\n".join(sorted(wrong))


def test_the_graph_check_reads_real_edges():
    """Not vacuous: the parser sees the imports that are allowed."""
    assert _imported_packages(ROOT / "workflows" / "approval.py") >= {"approvals", "activities"}
    assert _imported_packages(ROOT / "worker.py") >= {"workflows", "activities", "approvals"}


def _agent_install() -> set[str]:
    """The distributions ``pip install .`` (no extras) would install, resolved, not installed."""
    report = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            "-",
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    installed = json.loads(report.stdout)["install"]
    return {item["metadata"]["name"].lower().replace("_", "-") for item in installed}


@pytest.mark.timeout(150)
def test_an_agent_only_install_pulls_the_sdk_pydantic_and_httpx_only():
    pulled = _agent_install()
    assert {"temporalio", "pydantic", "httpx"} <= pulled
    assert pulled <= AGENT_INSTALL, (
        f"pulled beyond the agent library: {sorted(pulled - AGENT_INSTALL)}"
    )


def test_the_agent_library_and_cli_import_without_any_extra():
    """``approvals`` and its CLI load with the worker's and platform's packages unavailable."""
    blocked = ["fastapi", "starlette", "uvicorn", "websockets", "yaml", "langchain_core"]
    script = (
        "import sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None  # import fails as if not installed\n"
        "import approvals, approvals.client, approvals.cli, approvals.settings\n"
        "from approvals.client import request_approval\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
