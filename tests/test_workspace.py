"""The worker's one platform client: kept for the worker's life, current token on every
request, the token file read again only once it changed."""

from __future__ import annotations

import os

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from durable_approvals import errors
from durable_approvals import settings as settings_module
from durable_approvals.activities.workspace import PlatformAccess
from durable_approvals.redaction import redact_text
from durable_approvals.settings import Settings


@pytest.fixture
def token_file(monkeypatch, tmp_path):
    monkeypatch.delenv("WORKSPACE_TOKEN", raising=False)
    monkeypatch.setenv("CONFIGS_DIR", str(tmp_path))
    return tmp_path / ".auth_token"


@pytest.fixture
def reads(monkeypatch):
    """Counts the reads of the token file."""
    counted: list[str] = []
    real = settings_module.read_token_file

    def counting(path):
        counted.append(str(path))
        return real(path)

    monkeypatch.setattr(settings_module, "read_token_file", counting)
    return counted


def _access(**settings: object) -> tuple[PlatformAccess, list[str | None]]:
    """A PlatformAccess whose requests record the Authorization header they carried."""
    seen: list[str | None] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization"))
        return httpx.Response(200, json=[])

    http = httpx.AsyncClient(transport=httpx.MockTransport(reply))
    config = Settings(workspace_id="ws-1", platform_url="http://platform", **settings)
    return PlatformAccess(config, http), seen


async def test_one_client_for_the_worker_and_the_rotated_token_on_the_next_request(
    token_file, reads
):
    token_file.write_text("token-one\n", encoding="utf-8")
    access, seen = _access()
    platform = access.client("ws-1")
    await platform.list_approvals()
    await access.client("ws-1").list_approvals()
    assert access.client("ws-1") is platform
    assert seen == ["Bearer token-one"] * 2
    assert len(reads) == 1  # unchanged file: not read again

    # Rotation by rename, as secret mounts do: the client already held sees it.
    rotated = token_file.with_name(".auth_token.new")
    rotated.write_text("token-two\n", encoding="utf-8")
    os.replace(rotated, token_file)
    await platform.list_approvals()
    assert seen[-1] == "Bearer token-two"
    assert len(reads) == 2
    assert redact_text("sent token-two") == "sent ***REDACTED***"
    await access.http.aclose()


async def test_a_token_file_rewritten_in_place_is_read_again(token_file, reads):
    token_file.write_text("first-token", encoding="utf-8")
    access, seen = _access()
    platform = access.client("ws-1")
    await platform.list_approvals()
    token_file.write_text("second-token-longer", encoding="utf-8")
    await platform.list_approvals()
    token_file.unlink()
    await platform.list_approvals()
    assert seen == ["Bearer first-token", "Bearer second-token-longer", None]
    await access.http.aclose()


async def test_the_variable_wins_and_the_file_is_not_read(token_file, reads):
    token_file.write_text("file-token", encoding="utf-8")
    access, seen = _access(workspace_token="variable-token")
    await access.client("ws-1").list_approvals()
    assert (seen, reads) == (["Bearer variable-token"], [])
    await access.http.aclose()


async def test_another_workspace_is_refused(token_file):
    access, seen = _access()
    with pytest.raises(ApplicationError) as caught:
        access.client("ws-2")
    assert (caught.value.type, caught.value.non_retryable) == (errors.UNKNOWN_WORKSPACE, True)
    assert seen == []
    await access.http.aclose()
