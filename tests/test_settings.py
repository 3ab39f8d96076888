"""Settings keep the reference tool's environment names and defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from durable_approvals import settings as settings_module
from durable_approvals.activities.messages import ListenerConfig
from durable_approvals.models import ApprovalRequest, WebSocketMode
from durable_approvals.settings import Settings
from durable_approvals.workflows.listener_start import listener_config

NAMES = (
    "PLATFORM_URL",
    "WORKSPACE_ID",
    "WORKSPACE_TOKEN",
    "APPROVAL_TIMEOUT",
    "APPROVAL_POLL_INTERVAL",
    "APPROVAL_USE_WEBSOCKET",
    "APPROVAL_HEARTBEAT_TIMEOUT",
    "AUDIT_LOG_PATH",
    "RBAC_CONFIG_PATH",
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_TASK_QUEUE",
)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONFIGS_DIR", str(tmp_path / "configs"))
    monkeypatch.chdir(tmp_path)  # no approvals.env here unless a test writes one
    return monkeypatch


def test_defaults_are_the_reference_tools(clean_env, tmp_path):
    settings = Settings()
    assert settings.platform_url == "http://localhost:8080"
    assert settings.workspace_id == ""
    assert settings.approval_timeout == 300
    assert settings.approval_poll_interval == 5
    assert settings.approval_use_websocket is WebSocketMode.AUTO
    assert str(settings.audit_log_path) == "/var/log/molecule/audit.jsonl"
    assert settings.rbac_config_path == tmp_path / "configs" / "config.yaml"
    assert (settings.temporal_address, settings.temporal_namespace) == ("localhost:7233", "default")
    assert settings.temporal_task_queue == "approvals"
    assert settings.bearer_token() is None


def test_the_platform_default_is_explicit_even_in_a_container(clean_env, tmp_path):
    """No detection: the same default everywhere; compose sets PLATFORM_URL itself."""
    clean_env.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert Settings().platform_url == "http://localhost:8080"


def _write_settings_file(path, **values):
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))


def test_the_settings_file_in_the_current_directory_is_read(clean_env, tmp_path):
    clean_env.delenv(settings_module.SETTINGS_FILE_VARIABLE, raising=False)
    _write_settings_file(
        tmp_path / "approvals.env",
        WORKSPACE_ID="from-file",
        PLATFORM_URL="http://127.0.0.1:18080",
        AUDIT_LOG_PATH=str(tmp_path / "audit.jsonl"),
    )
    settings = Settings()
    assert settings.workspace_id == "from-file"
    assert settings.platform_url == "http://127.0.0.1:18080"
    assert settings.audit_log_path == tmp_path / "audit.jsonl"


def test_the_environment_and_arguments_win_over_the_settings_file(clean_env, tmp_path):
    clean_env.delenv(settings_module.SETTINGS_FILE_VARIABLE, raising=False)
    _write_settings_file(tmp_path / "approvals.env", WORKSPACE_ID="from-file", APPROVAL_TIMEOUT="7")
    clean_env.setenv("WORKSPACE_ID", "from-env")
    settings = Settings(approval_timeout=9)
    assert (settings.workspace_id, settings.approval_timeout) == ("from-env", 9)


def test_the_settings_file_variable_names_another_file_or_none(clean_env, tmp_path):
    _write_settings_file(tmp_path / "approvals.env", WORKSPACE_ID="default-file")
    other = tmp_path / "other.env"
    _write_settings_file(other, WORKSPACE_ID="other-file")
    clean_env.setenv(settings_module.SETTINGS_FILE_VARIABLE, str(other))
    assert Settings().workspace_id == "other-file"
    clean_env.setenv(settings_module.SETTINGS_FILE_VARIABLE, "")
    assert Settings().workspace_id == ""


def test_a_bad_value_in_the_settings_file_names_the_setting(clean_env, tmp_path):
    clean_env.delenv(settings_module.SETTINGS_FILE_VARIABLE, raising=False)
    _write_settings_file(tmp_path / "approvals.env", APPROVAL_TIMEOUT="soon")
    with pytest.raises(ValidationError, match="approval_timeout"):
        Settings()


def test_asking_without_a_workspace_says_which_setting_to_set(clean_env):
    with pytest.raises(settings_module.SettingsError, match="WORKSPACE_ID is not set"):
        Settings().approval_request("Drop the staging database")


def test_environment_names_are_read(clean_env):
    values = {
        "PLATFORM_URL": "https://platform.example/",
        "WORKSPACE_ID": "ws-9",
        "APPROVAL_TIMEOUT": "60",
        "APPROVAL_POLL_INTERVAL": "2.5",
        "APPROVAL_USE_WEBSOCKET": "FALSE",
        "TEMPORAL_ADDRESS": "temporal:7233",
        "TEMPORAL_NAMESPACE": "prod",
        "TEMPORAL_TASK_QUEUE": "approvals-prod",
    }
    for name, value in values.items():
        clean_env.setenv(name, value)
    settings = Settings()
    assert settings.platform_url == "https://platform.example"
    assert settings.workspace_id == "ws-9"
    assert (settings.approval_timeout, settings.approval_poll_interval) == (60, 2.5)
    assert settings.approval_use_websocket is WebSocketMode.FALSE
    assert settings.temporal_address == "temporal:7233"
    assert (settings.temporal_namespace, settings.temporal_task_queue) == ("prod", "approvals-prod")


def test_the_listener_takes_its_transport_from_the_environment(clean_env):
    clean_env.setenv("WORKSPACE_ID", "ws-9")
    clean_env.setenv("APPROVAL_USE_WEBSOCKET", "false")
    clean_env.setenv("APPROVAL_POLL_INTERVAL", "2.5")
    clean_env.setenv("APPROVAL_HEARTBEAT_TIMEOUT", "12")
    config = listener_config(Settings())
    assert config.workspace_id == "ws-9"
    assert config.websocket is WebSocketMode.FALSE
    assert (config.poll_interval_seconds, config.heartbeat_timeout_seconds) == (2.5, 12)


def test_an_empty_websocket_setting_means_auto(clean_env):
    clean_env.setenv("APPROVAL_USE_WEBSOCKET", "")
    assert Settings().approval_use_websocket is WebSocketMode.AUTO


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("APPROVAL_TIMEOUT", "0"),
        ("APPROVAL_TIMEOUT", "-1"),
        ("APPROVAL_TIMEOUT", "soon"),
        ("APPROVAL_POLL_INTERVAL", "0"),
        ("APPROVAL_USE_WEBSOCKET", "maybe"),
        ("PLATFORM_URL", "ftp://platform"),
        ("WORKER_MAX_CACHED_WORKFLOWS", "0"),
        ("WORKER_MAX_CONCURRENT_ACTIVITIES", "0"),
    ],
)
def test_bad_values_are_refused_not_defaulted(clean_env, name, value):
    clean_env.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_token_comes_from_the_variable_else_the_runtime_file(clean_env, tmp_path):
    token_file = tmp_path / "configs" / ".auth_token"
    token_file.parent.mkdir()
    token_file.write_text("file-token\n", encoding="utf-8")
    assert Settings().bearer_token() == "file-token"
    clean_env.setenv("WORKSPACE_TOKEN", "env-token")
    settings = Settings()
    assert settings.bearer_token() == "env-token"
    assert "env-token" not in repr(settings)


def test_requests_take_their_defaults_from_the_environment(clean_env):
    clean_env.setenv("WORKSPACE_ID", "ws-9")
    clean_env.setenv("APPROVAL_TIMEOUT", "2")
    clean_env.setenv("APPROVAL_USE_WEBSOCKET", "false")
    request = Settings().approval_request("restart prod", "deploy", requester="agent-7")
    assert request.workspace_id == "ws-9"
    assert request.timeout_seconds == 2
    assert request.requester == "agent-7"
    override = Settings().approval_request("restart prod", timeout_seconds=30)
    assert override.timeout_seconds == 30


def test_a_request_with_an_invalid_workspace_is_refused(clean_env):
    clean_env.setenv("WORKSPACE_ID", "../etc")
    with pytest.raises(ValidationError, match="workspace_id"):
        Settings().approval_request("restart prod")


VALID_EXTRA = {ApprovalRequest: {"action": "x"}}


@pytest.mark.parametrize(
    ("setting", "field", "model", "bad"),
    [
        ("APPROVAL_TIMEOUT", "timeout_seconds", ApprovalRequest, 31 * 24 * 3600),
        ("APPROVAL_POLL_INTERVAL", "poll_interval_seconds", ListenerConfig, 0.01),
        ("APPROVAL_POLL_INTERVAL", "poll_interval_seconds", ListenerConfig, 3601),
        ("APPROVAL_HEARTBEAT_TIMEOUT", "heartbeat_timeout_seconds", ListenerConfig, 0.5),
        ("APPROVAL_HEARTBEAT_TIMEOUT", "heartbeat_timeout_seconds", ListenerConfig, 601),
        ("LISTENER_SESSION_SECONDS", "session_seconds", ListenerConfig, 86_401),
    ],
)
def test_a_setting_and_the_field_it_fills_share_one_bound(clean_env, setting, field, model, bad):
    """One Annotated type per limit: the environment cannot hold what the model refuses."""
    clean_env.setenv(setting, str(bad))
    with pytest.raises(ValidationError):
        Settings()
    with pytest.raises(ValidationError) as caught:
        model(**{"workspace_id": "ws-1", **VALID_EXTRA.get(model, {}), field: bad})
    assert caught.value.errors()[0]["loc"][0] == field


def test_the_settings_defaults_are_the_models_defaults(clean_env):
    clean_env.setenv("WORKSPACE_ID", "ws-1")
    settings = Settings()
    assert listener_config(settings) == ListenerConfig(workspace_id="ws-1")
    assert settings.approval_request("x") == ApprovalRequest(workspace_id="ws-1", action="x")
