"""The house rules a reader checks first: the import graph and what each install pulls.

- Everything that installs lives under one import name, ``durable_approvals``: the
  library at its root, the Temporal side (``.activities``, ``.workflows``, ``.worker``)
  and the reference platform (``.devstack``) under it. The repository keeps those
  rooms at its top level; ``durable_approvals/`` links to them.
- Rooms import one way: the library imports none of the others; ``activities``
  imports the library; ``workflows`` both; ``worker`` all three; ``devstack`` (reference
  platform, dev stack) only the library. Nothing shipped imports ``devstack``,
  ``tests`` or ``bench``.
- ``pip install durable-approvals`` without extras resolves to the Temporal SDK,
  pydantic and httpx and their own dependencies: no web server, no WebSocket
  client, no YAML parser, no CLI framework, no agent framework.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "durable_approvals"
SUBROOMS = {"activities", "workflows", "worker", "devstack"}
OURS = {"library", *SUBROOMS, "tests", "bench", "examples"}
ALLOWED: dict[str, set[str]] = {
    "library": {"library"},
    "activities": {"activities", "library"},
    "workflows": {"workflows", "activities", "library"},
    "worker": {"worker", "workflows", "activities", "library"},
    "devstack": {"devstack", "library"},
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
    room = path.relative_to(ROOT).parts[0].removesuffix(".py")
    return "library" if room == NAMESPACE else room


def _room(module: str) -> str:
    """The room of an absolute import: ``durable_approvals.workflows.x`` is ``workflows``."""
    parts = module.split(".")
    if parts[0] != NAMESPACE:
        return parts[0]
    return parts[1] if len(parts) > 1 and parts[1] in SUBROOMS else "library"


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(_room(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == NAMESPACE:  # from durable_approvals import worker, models, ...
                found.update(_room(f"{NAMESPACE}.{alias.name}") for alias in node.names)
            else:
                found.add(_room(node.module))
    return found & OURS


def _shipped_modules() -> list[Path]:
    modules = [ROOT / "worker.py"]
    modules.extend(p for p in sorted((ROOT / NAMESPACE).rglob("*.py")) if not p.is_symlink())
    for room in ("activities", "workflows", "devstack"):
        modules.extend(sorted((ROOT / room).rglob("*.py")))
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
    assert _imported_packages(ROOT / "workflows" / "approval.py") >= {"library", "activities"}
    assert _imported_packages(ROOT / "worker.py") >= {"workflows", "activities", "library"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip wheel .`` builds from this checkout (offline: no build isolation)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_installs_one_top_level_name(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {NAMESPACE}
    for module in (
        "worker.py",
        "workflows/approval.py",
        "activities/listener.py",
        "devstack/platform/app.py",
        "devstack/platform/static/inbox.html",
        "cli/__init__.py",
        "cli/decide.py",
        "deciding/decider.py",
    ):
        assert f"{NAMESPACE}/{module}" in names, module


@pytest.mark.timeout(300)
def test_a_plain_install_of_the_wheel_runs_the_cli_and_the_worker(wheel: Path, tmp_path: Path):
    """A clean venv gets the wheel; its dependencies come from this venv's site-packages
    (a path entry, not a site dir: the checkout's editable finder stays out)."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    site = next((env_dir / "lib").glob("python*/site-packages"))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    deps = [p for p in sys.path if p.endswith("site-packages")]
    (site / "deps.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    python = env_dir / "bin" / "python"
    clean = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "APPROVALS_ENV_FILE": ""}

    def run(*code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), *code],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env=clean,
        )

    where = run("-c", "import durable_approvals, sys; print(durable_approvals.__file__)")
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(str(site)), where.stdout
    cli = run(
        "-c",
        "import sys; from durable_approvals.cli import main; sys.argv[0] = 'approvals'; main()",
        "--help",
    )
    assert cli.returncode == 0, cli.stderr
    assert "usage: approvals" in cli.stdout
    worker = run("-m", "durable_approvals.worker", "--help")
    assert worker.returncode == 0, worker.stderr
    assert "usage: approvals-worker" in worker.stdout
    entry_points = run(
        "-c",
        "from importlib.metadata import entry_points; "
        "print(sorted(e.value for e in entry_points(group='console_scripts') "
        "if e.value.startswith('durable_approvals')))",
    )
    assert "durable_approvals.cli:main" in entry_points.stdout
    assert "durable_approvals.worker:main" in entry_points.stdout


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
        "import durable_approvals, durable_approvals.client, durable_approvals.cli\n"
        "import durable_approvals.settings\n"
        "from durable_approvals.client import request_approval\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
