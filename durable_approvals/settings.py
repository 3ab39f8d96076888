"""Settings read from the environment, with the reference tool's names and defaults."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from durable_approvals.metrics import parse_metrics_address
from durable_approvals.models import (
    DEFAULT_HEARTBEAT_SECONDS,
    DEFAULT_POLL_INTERVAL_SECONDS,
    DEFAULT_SESSION_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    ApprovalRequest,
    HeartbeatSeconds,
    PollIntervalSeconds,
    SessionSeconds,
    TimeoutSeconds,
    WebSocketMode,
)

SETTINGS_FILE_VARIABLE = "APPROVALS_ENV_FILE"
DEFAULT_SETTINGS_FILE = "approvals.env"
DEFAULT_PLATFORM_URL = "http://localhost:8080"


class SettingsError(ValueError):
    """A setting needed for this call is missing or unusable; the message names it."""


# C0 and C1 controls, DEL, and Unicode's line and paragraph separators: a header value
# (or a log line) with one of these breaks, and its error would carry the secret.
_TOKEN_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def token_problem(token: str, name: str) -> str | None:
    """Why ``token`` cannot be sent as a header (one line naming ``name``, never the
    token), or ``None``."""
    if _TOKEN_CONTROL_CHARS.search(token):
        return (
            f"{name} contains a control character (a line break?): set it to the token "
            "alone, on one line"
        )
    return None


def settings_file() -> Path | None:
    """The dotenv file read under the environment: ``$APPROVALS_ENV_FILE``, else
    ``./approvals.env`` (the dev stack writes it); an empty variable means none."""
    name = os.environ.get(SETTINGS_FILE_VARIABLE, DEFAULT_SETTINGS_FILE)
    return Path(name) if name else None


def _configs_dir() -> Path:
    return Path(os.environ.get("CONFIGS_DIR", "/configs"))


class Settings(BaseSettings):
    """Everything the worker and the clients read: arguments, then environment variables,
    then the settings file (:func:`settings_file`), then the defaults."""

    model_config = SettingsConfigDict(
        env_prefix="",
        case_sensitive=False,
        extra="ignore",
        env_file_encoding="utf-8",
        hide_input_in_errors=True,  # values may be secrets
    )

    def __init__(self, **values: Any) -> None:
        values.setdefault("_env_file", settings_file())
        super().__init__(**values)

    platform_url: str = DEFAULT_PLATFORM_URL
    workspace_id: str = ""
    workspace_token: SecretStr | None = Field(
        default=None,
        description="Bearer token; when unset, read from ${CONFIGS_DIR}/.auth_token.",
    )
    approval_timeout: TimeoutSeconds = DEFAULT_TIMEOUT_SECONDS
    approval_poll_interval: PollIntervalSeconds = Field(
        default=DEFAULT_POLL_INTERVAL_SECONDS,
        description="Seconds between the workspace listener's poll passes (no socket).",
    )
    approval_use_websocket: WebSocketMode = Field(
        default=WebSocketMode.AUTO,
        description="The workspace listener's transport: auto (socket, polling while it is "
        "down), true (socket only), false (polling only).",
    )
    approval_heartbeat_timeout: HeartbeatSeconds = Field(
        default=DEFAULT_HEARTBEAT_SECONDS,
        description="The listener's heartbeat timeout: how soon another worker takes over "
        "the listener of a worker that died.",
    )
    listener_session_seconds: SessionSeconds = DEFAULT_SESSION_SECONDS
    platform_verify_key: str | None = Field(
        default=None,
        description="The platform's Ed25519 public key (base64, or the path of a file "
        "holding it): the worker checks each decision's proof with it (docs/trust-model.md).",
    )
    approver_token: SecretStr | None = Field(
        default=None,
        description="An approver's credential for `approvals decide` on a platform with an "
        "approvers file (X-Approver-Token); never on the command line.",
    )
    audit_log_path: Path = Path("/var/log/molecule/audit.jsonl")
    rbac_config_path: Path = Field(default_factory=lambda: _configs_dir() / "config.yaml")
    platform_http_timeout: float = Field(default=10.0, gt=0)
    platform_http_max_connections: int = Field(default=100, ge=1)
    expire_retry_for: float = Field(
        default=3600.0,
        ge=0,
        description="Seconds a timed-out or cancelled request's expiry keeps trying (with "
        "backoff) while the platform does not answer; 0: three attempts.",
    )
    worker_sticky_timeout: float = Field(
        default=3.0,
        gt=0,
        description="Seconds a workflow task waits for the worker that has it cached "
        "(added to recovery after a worker crash).",
    )
    worker_max_cached_workflows: int = Field(
        default=1000,
        ge=1,
        description="Workflows kept in worker memory between tasks (at least 1).",
    )
    worker_max_concurrent_activities: int = Field(
        default=100,
        ge=1,
        description="Regular activity slots; the workspace listener takes one.",
    )
    worker_max_concurrent_local_activities: int = Field(default=50, ge=1)
    worker_max_concurrent_workflow_tasks: int = Field(
        default=20,
        ge=2,
        description="Workflow tasks run at once (docs/internals.md says why 20).",
    )
    worker_metrics_address: str = Field(
        default="127.0.0.1:9464",
        description="IP:port where the worker serves Prometheus metrics at /metrics (the "
        "SDK's and approvals_*, docs/observability.md); empty turns them off.",
    )

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "approvals"
    # Remote clusters: mTLS client certificate and key, a private CA, an API key.
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None
    temporal_api_key: SecretStr | None = None

    @field_validator("platform_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("PLATFORM_URL must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("workspace_token", "approver_token", "temporal_api_key")
    @classmethod
    def _one_line_token(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        name = (info.field_name or "token").upper()
        if value is not None and (problem := token_problem(value.get_secret_value(), name)):
            raise ValueError(problem)
        return value

    @field_validator("worker_metrics_address")
    @classmethod
    def _metrics_address(cls, value: str) -> str:
        try:
            return parse_metrics_address(value)
        except ValueError as error:
            raise ValueError(f"WORKER_METRICS_ADDRESS: {error}; empty turns metrics off") from None

    @field_validator("approval_use_websocket", mode="before")
    @classmethod
    def _websocket_mode(cls, value: object) -> object:
        if isinstance(value, str):  # empty means auto, as in the reference tool
            return value.strip().lower() or WebSocketMode.AUTO
        return value

    def approval_request(self, action: str, reason: str = "", **overrides: Any) -> ApprovalRequest:
        """A validated request with this environment's defaults, ``overrides`` applied.

        Raises:
            SettingsError: no workspace (WORKSPACE_ID unset and none given).
            pydantic.ValidationError: bad input.
        """
        if not self.workspace_id and "workspace_id" not in overrides:
            raise SettingsError(
                "WORKSPACE_ID is not set: export WORKSPACE_ID=<your workspace>, or run the "
                f"dev stack (bash scripts/stack.sh), which writes it to {DEFAULT_SETTINGS_FILE}"
            )
        fields: dict[str, Any] = {
            "workspace_id": self.workspace_id,
            "action": action,
            "reason": reason,
            "timeout_seconds": self.approval_timeout,
        }
        fields.update(overrides)
        return ApprovalRequest(**fields)

    def bearer_token(self) -> str | None:
        """The workspace token: WORKSPACE_TOKEN wins, else the runtime's token file."""
        return TokenSource(self)()


def token_file() -> Path:
    """The runtime's token file, ``${CONFIGS_DIR}/.auth_token``."""
    return _configs_dir() / ".auth_token"


def read_token_file(path: Path) -> str | None:
    """The token in ``path``, stripped; ``None`` when unreadable or empty.

    Raises:
        SettingsError: a control character inside the token (the message names the file).
    """
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if problem := token_problem(token, f"the token in {path}"):
        raise SettingsError(problem)
    return token or None


class TokenSource:
    """Call it for the current workspace token; the file is read again only once it changed."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stamp: tuple[int, int, int, int] | None = None
        self._token: str | None = None

    def __call__(self) -> str | None:
        fixed = self._settings.workspace_token
        if fixed is not None and fixed.get_secret_value():
            return fixed.get_secret_value()
        path = token_file()
        try:
            info = path.stat()
        except OSError:
            self._stamp, self._token = None, None
            return None
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        if stamp != self._stamp:
            self._stamp, self._token = stamp, read_token_file(path)
        return self._token
