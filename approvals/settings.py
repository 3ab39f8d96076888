"""Settings read from the environment, with the reference tool's names and defaults.

One object, built once at start-up and handed to what needs it, so tests build
their own instead of patching the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from approvals.metrics import parse_metrics_address
from approvals.models import (
    MAX_POLL_INTERVAL_SECONDS,
    MAX_TIMEOUT_SECONDS,
    MIN_POLL_INTERVAL_SECONDS,
    ApprovalRequest,
    WebSocketMode,
)


def running_in_container() -> bool:
    """True inside Docker/Podman/Kubernetes, where the platform is not on localhost."""
    if Path("/.dockerenv").exists() or Path("/run/.containerenv").exists():
        return True
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return True
    try:
        cgroup = Path("/proc/1/cgroup").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(marker in cgroup for marker in ("docker", "containerd", "kubepods", "libpod"))


def default_platform_url() -> str:
    host = "host.docker.internal" if running_in_container() else "localhost"
    return f"http://{host}:8080"


def _configs_dir() -> Path:
    return Path(os.environ.get("CONFIGS_DIR", "/configs"))


class Settings(BaseSettings):
    """Everything the worker and the clients read from the environment."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    platform_url: str = Field(default_factory=default_platform_url)
    workspace_id: str = ""
    workspace_token: SecretStr | None = Field(
        default=None,
        description="Bearer token; when unset, read from ${CONFIGS_DIR}/.auth_token.",
    )
    approval_timeout: float = Field(default=300.0, gt=0, le=MAX_TIMEOUT_SECONDS)
    approval_poll_interval: float = Field(
        default=5.0,
        ge=MIN_POLL_INTERVAL_SECONDS,
        le=MAX_POLL_INTERVAL_SECONDS,
        description="Seconds between the workspace listener's poll passes (no socket).",
    )
    approval_use_websocket: WebSocketMode = Field(
        default=WebSocketMode.AUTO,
        description="The workspace listener's transport: auto (socket, polling while it is "
        "down), true (socket only), false (polling only).",
    )
    approval_heartbeat_timeout: float = Field(
        default=30.0,
        ge=1.0,
        le=600.0,
        description="The listener's heartbeat timeout: how soon another worker takes over "
        "the listener of a worker that died.",
    )
    listener_session_seconds: float = Field(default=3_600.0, ge=1.0, le=86_400.0)
    audit_log_path: Path = Path("/var/log/molecule/audit.jsonl")
    rbac_config_path: Path = Field(default_factory=lambda: _configs_dir() / "config.yaml")
    platform_http_timeout: float = Field(default=10.0, gt=0)
    platform_http_max_connections: int = Field(default=100, ge=1)
    worker_sticky_timeout: float = Field(
        default=3.0,
        gt=0,
        description="Seconds a workflow task waits for the worker that has it cached; after a "
        "worker crash this is added to recovery, so it is short (SDK default: 10).",
    )
    worker_max_cached_workflows: int = Field(
        default=1000,
        ge=1,
        description="Workflows kept in worker memory between tasks. 0 is refused: a workflow "
        "task that runs the audit local activity would then be dropped and redelivered only "
        "after the 10 s workflow task timeout.",
    )
    worker_max_concurrent_activities: int = Field(
        default=100,
        ge=1,
        description="Regular activity slots: the workspace listener takes one; the short "
        "calls run as local activities.",
    )
    worker_max_concurrent_local_activities: int = Field(default=50, ge=1)
    worker_max_concurrent_workflow_tasks: int = Field(
        default=20,
        ge=2,
        description="Workflow tasks run at once; fewer, shorter tasks under a burst (SDK "
        "default 100: tasks of 8 s on 2 cores under 1,000 requests, see docs/performance.md).",
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
        # The reference tool treated an empty value as auto-detect.
        if isinstance(value, str):
            return value.strip().lower() or WebSocketMode.AUTO
        return value

    def approval_request(self, action: str, reason: str = "", **overrides: Any) -> ApprovalRequest:
        """A validated request with this environment's defaults (APPROVAL_TIMEOUT and co.).

        The defaults are resolved here, on the caller's side, and travel in the
        workflow input: a worker started later with other settings cannot change
        what an agent already asked for.
        """
        fields: dict[str, Any] = {
            "workspace_id": self.workspace_id,
            "action": action,
            "reason": reason,
            "timeout_seconds": self.approval_timeout,
        }
        fields.update(overrides)
        return ApprovalRequest(**fields)

    def bearer_token(self) -> str | None:
        """The workspace token: the env var wins, else the runtime's token file."""
        if self.workspace_token is not None and self.workspace_token.get_secret_value():
            return self.workspace_token.get_secret_value()
        token_file = _configs_dir() / ".auth_token"
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return token or None
