"""Shared fixtures: real Temporal servers (dev server and time-skipping), the real
reference platform on 127.0.0.1, and settings pointing the worker at both."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from approvals import search_attributes
from approvals.converter import data_converter
from approvals.platform import PlatformServer
from approvals.settings import Settings
from tests.helpers import WORKSPACE

BIN_DIR = Path(sys.executable).parent


@pytest.fixture(scope="session")
async def dev_env():
    """A real ``temporal server start-dev`` (in-memory), shared by the session's tests."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN_DIR / "temporal"),
        data_converter=data_converter,
        dev_server_log_level="error",
        dev_server_extra_args=list(search_attributes.DEV_SERVER_ARGS),
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def skipping_env():
    """The time-skipping test server, for timers measured in days."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN_DIR / "temporal-test-server"),
        data_converter=data_converter,
    )
    await search_attributes.register(env.client)
    yield env
    await env.shutdown()


@pytest.fixture
async def platform(tmp_path):
    server = PlatformServer(tmp_path / "platform.db", fault_control=True)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def settings(platform, tmp_path) -> Settings:
    return Settings(
        platform_url=platform.url,
        workspace_id=WORKSPACE,
        workspace_token=None,
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
    server = PlatformServer(tmp_path_factory.mktemp("platform") / "platform.db", fault_control=True)
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
