"""Shared fixtures: real Temporal servers (dev server and time-skipping), the real
reference platform on 127.0.0.1, and settings pointing the worker at both.

The platform runs in one of two modes (docs/platform-modes.md): ``reference`` (the
default: contract plus extensions, open) or ``strict`` (the upstream contract alone,
token required). A test or module runs in both with
``@pytest.mark.platform_modes("reference", "strict")`` (or
``@pytest.mark.parametrize("platform", ["reference", "strict"], indirect=True)``);
``@pytest.mark.reference_only("why")`` takes one test of such a module out of strict
mode, saying why. ``settings`` then carries the platform's token.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from durable_approvals import search_attributes
from durable_approvals.converter import data_converter
from durable_approvals.settings import SETTINGS_FILE_VARIABLE, Settings
from tests import helpers
from tests.helpers import (
    PLATFORM_MODES,
    PLATFORM_TOKEN,
    SERVER_STARTUP_TIMEOUT,
    WORKSPACE,
    start_platform,
)
from tests.platform_faults import FaultyPlatform

BIN_DIR = Path(sys.executable).parent

# The tests' settings come from their fixtures alone: not from an approvals.env the dev
# stack wrote in the checkout (inherited by every process a test starts). The tests of
# the settings file itself set the variable again.
os.environ[SETTINGS_FILE_VARIABLE] = ""


@pytest.fixture(scope="session")
async def dev_env():
    """A real ``temporal server start-dev`` (in-memory), shared by the session's tests."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN_DIR / "temporal"),
        data_converter=data_converter,
        dev_server_log_level="error",
        dev_server_extra_args=list(search_attributes.DEV_SERVER_ARGS),
        dev_server_startup_timeout=SERVER_STARTUP_TIMEOUT,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def skipping_env():
    """The time-skipping test server, for timers measured in days."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN_DIR / "temporal-test-server"),
        data_converter=data_converter,
        test_server_startup_timeout=SERVER_STARTUP_TIMEOUT,
    )
    await search_attributes.register(env.client)
    yield env
    await env.shutdown()


SLOWEST_FIRST = (
    "tests/test_decide_update.py",
    "tests/test_approval_flow.py",
    "tests/test_soak.py",
    "tests/test_crash_stages.py",
    "tests/test_upgrade.py",
    "tests/test_agents_guarded.py",
    "tests/test_fault_schedule.py",
    "tests/test_escalation_e2e.py",
    "tests/test_listener.py",
    "tests/test_expiry_retry.py",
    "tests/test_agents_mcp.py",
    "tests/test_channels_e2e.py",
    "tests/test_packaging.py",
    "tests/security/test_cross_origin_browser.py",
    "tests/test_inbox_browser.py",
    "tests/test_stale_task.py",
    "tests/test_first_hour.py",
    "tests/test_upstream_promises.py",
    "tests/test_server_restart.py",
    "tests/test_agents_langchain.py",
    "tests/test_cli.py",
    "tests/test_observability.py",
    "tests/test_worker_crash.py",
    "tests/test_agents_openai.py",
    "tests/test_agents_pydantic_ai.py",
    "tests/test_langgraph_restart.py",
)
"""The test files that take longest on 2 cores, about longest first (docs/testing.md
"Running"): the suite starts them first, so that under ``--dist loadfile`` no long file
is left to run alone at the end. A file not listed runs after these, in its usual order.
``test_soak.py`` and ``test_upgrade.py`` (issue 22) are listed ahead of their merge."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Puts the files of ``SLOWEST_FIRST`` first, in its order (each file stays whole)."""
    rank = {path: n for n, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def pytest_configure(config: pytest.Config) -> None:
    # xdist's own order for --dist loadfile is by number of tests, which leaves the long
    # files of few tests (tests/test_crash_stages.py: 2 tests, a minute) to the end.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
    config.addinivalue_line(
        "markers",
        "platform_modes(*modes): run the test once per platform mode "
        f"(of {', '.join(PLATFORM_MODES)}) through the platform_mode fixture",
    )
    config.addinivalue_line(
        "markers",
        "reference_only(reason): reference mode only, though its module runs in both modes",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    modes = metafunc.definition.get_closest_marker("platform_modes")
    if modes is None or "platform_mode" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("reference_only") is not None:
        return  # the default mode, and the test id stays as it was
    unknown = set(modes.args) - set(PLATFORM_MODES)
    if unknown:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: unknown mode(s) {unknown}")
    metafunc.parametrize("platform_mode", list(modes.args), indirect=True)


@pytest.fixture
def platform_mode(request: pytest.FixtureRequest) -> str:
    """``reference`` unless ``platform_modes`` parametrizes the test (a test that
    parametrizes ``platform`` itself asks ``platform.strict`` instead)."""
    mode: str = getattr(request, "param", "reference")
    return mode


@pytest.fixture
async def platform(request, tmp_path, platform_mode, monkeypatch):
    """The platform on 127.0.0.1 in ``platform_mode`` (or ``request.param`` when
    parametrized indirectly): reference, or strict with its token; ``faults`` in both.
    Tests ask ``platform.strict`` which one they got."""
    mode = getattr(request, "param", platform_mode)
    monkeypatch.setattr(helpers, "HISTORY_SUFFIX", "_strict" if mode == "strict" else "")
    server = await start_platform(tmp_path / f"platform-{mode}.db", mode)
    yield server
    await server.stop()


@pytest.fixture
def settings(platform: FaultyPlatform, tmp_path: Path) -> Settings:
    """The worker's settings for ``platform``: its URL and, for a strict one, its token."""
    return Settings(
        platform_url=platform.url,
        workspace_id=WORKSPACE,
        workspace_token=SecretStr(PLATFORM_TOKEN) if platform.strict else None,
        audit_log_path=tmp_path / "audit" / "audit.jsonl",
        rbac_config_path=tmp_path / "config.yaml",
        platform_http_timeout=5.0,
        approval_poll_interval=0.2,
        approval_heartbeat_timeout=5.0,
    )


# For tests of the platform alone (no Temporal): one server per module, since
# starting uvicorn per test would dominate those modules' time; its faults are
# reset after each test, and each test gets a workspace of its own.
@pytest.fixture(scope="module")
async def shared(tmp_path_factory):
    server = FaultyPlatform(tmp_path_factory.mktemp("platform") / "platform.db")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def server(shared):
    yield shared
    shared.faults.reset()


@pytest.fixture
def workspace() -> str:
    return f"ws-{uuid.uuid4()}"
