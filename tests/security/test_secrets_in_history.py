"""A token that cannot be a header never reaches Temporal's history: refused at load, one
line naming the setting; refused before a request when it gets past the load (a rotated
token file, an embedding that skips validation); and every activity failure is redacted
like the logs before the SDK stores it (activities/failures.py).

The history test greps the workflow's whole history (and the listener's) for the pieces
of the configured secret, on both platform modes.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from temporalio.exceptions import ApplicationError

from durable_approvals import errors
from durable_approvals.activities.failures import redacted_failure
from durable_approvals.converter import validation_message
from durable_approvals.models import ApprovalStatus
from durable_approvals.platform_client import PlatformClient, PlatformError
from durable_approvals.redaction import REDACTED, register_secret
from durable_approvals.settings import Settings, SettingsError, read_token_file
from durable_approvals.worker import StartupError, check_platform_token
from tests.helpers import PLATFORM_TOKEN, finish, running_worker, spawn_worker, start
from tests.test_listener import listener_of, terminate_quietly

pytestmark = pytest.mark.platform_modes("reference", "strict")

HEAD, TAIL = "Head0fTheS3cretT0ken", "Ta1lOfTheS3cretT0ken"
BROKEN_TOKENS = {
    "newline": f"{HEAD}\n{TAIL}",
    "carriage-return": f"{HEAD}\r\n{TAIL}",
    "nul": f"{HEAD}\x00{TAIL}",
    "escape": f"{HEAD}\x1b[2J{TAIL}",
    "line-separator": f"{HEAD}\u2028{TAIL}",
}
SETTINGS = ["WORKSPACE_TOKEN", "APPROVER_TOKEN", "TEMPORAL_API_KEY"]


def _leaks(text: str) -> list[str]:
    return [piece for piece in (HEAD, TAIL) if piece in text]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONFIGS_DIR", str(tmp_path / "configs"))
    return monkeypatch


@pytest.mark.reference_only("no platform: the settings alone")
@pytest.mark.parametrize("name", SETTINGS)
@pytest.mark.parametrize("token", BROKEN_TOKENS.values(), ids=BROKEN_TOKENS.keys())
def test_a_token_with_a_control_character_is_refused_at_load_naming_the_setting(
    clean_env, name, token
):
    with pytest.raises(ValidationError) as refused:
        if "\x00" in token:  # no environment variable holds a NUL: an argument then
            Settings(**{name.lower(): token})
        else:
            clean_env.setenv(name, token)
            Settings()
    line = validation_message(refused.value)
    assert "\n" not in line and f"{name} contains a control character" in line
    assert _leaks(line) == [] and _leaks(str(refused.value)) == []


@pytest.mark.reference_only("no platform: the token file alone")
@pytest.mark.parametrize("token", BROKEN_TOKENS.values(), ids=BROKEN_TOKENS.keys())
async def test_a_token_file_with_a_control_character_is_refused_naming_the_file(
    clean_env, tmp_path, token
):
    path = tmp_path / "configs" / ".auth_token"
    path.parent.mkdir()
    path.write_text(token + "\n", encoding="utf-8")
    with pytest.raises(SettingsError) as refused:
        read_token_file(path)
    assert str(path) in str(refused.value) and _leaks(str(refused.value)) == []
    with pytest.raises(StartupError) as at_start:  # the worker's start: one line
        await check_platform_token(Settings(platform_url="http://127.0.0.1:9"))
    assert (
        "control character" in str(at_start.value.message)
        and _leaks(str(at_start.value.message)) == []
    )


@pytest.mark.parametrize("where", ["variable", "token-file"])
async def test_the_worker_refuses_to_start_with_such_a_token_in_one_line(
    dev_env, settings, platform, tmp_path, where
):
    """``python worker.py`` with a line break in WORKSPACE_TOKEN, or in its token file:
    exit 2, one line naming the setting (or the file), nothing of the token."""
    log = tmp_path / "worker.log"
    configs = tmp_path / "configs"
    configs.mkdir()
    broken = BROKEN_TOKENS["newline"]
    if where == "token-file":
        (configs / ".auth_token").write_text(broken, encoding="utf-8")
    worker = spawn_worker(
        dev_env.client,
        settings.model_copy(update={"workspace_token": None}),
        f"tq-{uuid.uuid4()}",
        log,
        WORKSPACE_TOKEN=broken if where == "variable" else "",
        CONFIGS_DIR=str(configs),
    )
    try:
        status = await asyncio.to_thread(worker.wait, 60)
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGKILL)
            await asyncio.to_thread(worker.wait, 20)
    text = log.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    assert status == 2
    assert len(lines) == 1, lines
    named = "WORKSPACE_TOKEN" if where == "variable" else str(configs / ".auth_token")
    assert lines[0].startswith("worker: ") and named in lines[0]
    assert "control character" in lines[0] and _leaks(text) == []
    assert platform.store.count() == 0


@pytest.mark.reference_only("no platform: refused before any request")
async def test_a_client_given_such_a_token_refuses_to_send_it():
    import httpx

    async with httpx.AsyncClient() as http:
        client = PlatformClient(
            http, "http://127.0.0.1:9", "ws-test", token=BROKEN_TOKENS["newline"]
        )
        with pytest.raises(PlatformError) as refused:
            await client.list_approvals()
        with pytest.raises(PlatformError) as approver:
            await PlatformClient(http, "http://127.0.0.1:9", "ws-test").decide(
                "a1", approved=True, decided_by="x", approver_token=BROKEN_TOKENS["nul"]
            )
    for error in (refused.value, approver.value):
        assert (error.kind, error.retryable) == (errors.PLATFORM_REJECTED, False)
        assert _leaks(error.message) == []


@pytest.mark.reference_only("no platform: the failure converter's input")
def test_an_activity_failure_and_its_causes_are_redacted_keeping_type_and_retryability():
    secret = "Zz9-registered-secret-Qq7"
    register_secret(secret)
    try:
        raise KeyError(f"lookup of {secret} failed")
    except KeyError as inner:
        try:
            raise ApplicationError(
                f"create failed: {secret}", type=errors.PLATFORM_REJECTED, non_retryable=True
            ) from inner
        except ApplicationError as outer:
            caught = outer
    redacted = redacted_failure(caught)
    assert isinstance(redacted, ApplicationError) and redacted is not caught
    assert (redacted.type, redacted.non_retryable) == (errors.PLATFORM_REJECTED, True)
    assert redacted.message == f"create failed: {REDACTED}"
    cause = redacted.__cause__
    assert isinstance(cause, ApplicationError) and cause.type == "KeyError"
    assert secret not in str(cause) and REDACTED in str(cause)
    harmless = ValueError("nothing secret here")
    assert redacted_failure(harmless) is harmless


async def _token_file(tmp_path: Path, token: str) -> None:
    path = tmp_path / "configs" / ".auth_token"
    path.parent.mkdir(exist_ok=True)
    path.write_text(token, encoding="utf-8")


@pytest.mark.parametrize("via", ["token-file-rotated", "validation-skipped"])
async def test_a_broken_token_never_reaches_the_workflow_history(
    dev_env, settings, platform, tmp_path, monkeypatch, via
):
    """The worker starts with a good token; then the token file is rotated to one with a
    line break (or an embedding hands the worker settings it never validated): the
    request fails at once, and neither history holds a piece of the token."""
    good = PLATFORM_TOKEN if platform.strict else "reference-good-token-4711"
    monkeypatch.setenv("CONFIGS_DIR", str(tmp_path / "configs"))
    await _token_file(tmp_path, good)
    broken = BROKEN_TOKENS["newline"]
    if via == "token-file-rotated":
        worker_settings = settings.model_copy(update={"workspace_token": None})
    else:  # model_copy skips the validators: as a caller building settings by hand could
        worker_settings = settings.model_copy(update={"workspace_token": SecretStr(broken)})
    client = dev_env.client
    async with running_worker(client, worker_settings) as task_queue:
        try:
            if via == "token-file-rotated":
                await _token_file(tmp_path, broken)
            handle = await start(client, task_queue)
            result = await finish(handle, f"broken_token_{via}", timeout=60)
            history = (await handle.fetch_history()).to_json()
            listener = listener_of(client, task_queue)
            listener_history = (await listener.fetch_history()).to_json()
            listener_state = str((await listener.describe()).raw_description)
        finally:
            await terminate_quietly(listener_of(client, task_queue))

    assert result.status is ApprovalStatus.FAILURE
    assert result.error is not None and "control character" in result.error
    assert _leaks(result.error) == []
    assert _leaks(history) == [] and _leaks(listener_history) == []
    assert _leaks(listener_state) == []  # the listener's last failure, if any
