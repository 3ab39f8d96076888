"""The whole stack on embedded defaults, in the foreground:
``python -m durable_approvals.devstack``.

A Temporal dev server on a SQLite file, the reference platform and one worker,
each a child process logging under the data directory; Ctrl-C stops them all.
A second run finds the earlier state (workflows, approvals, audit trail).

The platform is closed by default: a workspace token is generated on the first start
(``<data>/workspace.token``, 0600) and handed to the worker and, through the settings
file, to the CLI; ``--open`` runs it without one, with a warning (docs/trust-model.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from durable_approvals import search_attributes
from durable_approvals.devstack.channels import (
    ENDPOINT_PORT,
    SMTP_PORT,
    STANDIN_PORT,
    DevChannels,
)
from durable_approvals.devstack.verified import (
    DEMO_APPROVERS,
    VerifiedDeciders,
    reconcile_workspace_config,
)
from durable_approvals.settings import DEFAULT_SETTINGS_FILE

BIN_DIR = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StackConfig:
    """Where the stack keeps its state and which ports it takes."""

    data_dir: Path
    workspace_id: str
    temporal_port: int
    ui_port: int
    platform_port: int
    metrics_port: int = 9464
    settings_file: Path = ROOT / DEFAULT_SETTINGS_FILE
    verified_deciders: bool = False
    """Approvers sign in and the platform signs decisions (docs/trust-model.md)."""
    channels: bool = False
    """The Slack stand-in, a local SMTP server and the channel endpoint (docs/channels.md)."""
    channel_ports: tuple[int, int, int] = (STANDIN_PORT, ENDPOINT_PORT, SMTP_PORT)
    """The stand-in's, the endpoint's and the SMTP server's."""
    open_platform: bool = False
    """No workspace token: anyone who reaches the platform may use it (``--open``)."""

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def platform_url(self) -> str:
        return f"http://127.0.0.1:{self.platform_port}"

    @property
    def inbox_url(self) -> str:
        return f"{self.platform_url}/inbox?workspace={self.workspace_id}"

    @property
    def token_file(self) -> Path:
        """The workspace token the stack generated (0600)."""
        return self.data_dir / "workspace.token"

    def client_settings(self) -> dict[str, str]:
        """What the stack chose that a client needs: written to the settings file (and
        ``WORKSPACE_TOKEN``, unless open: the file is then 0600)."""
        values = {
            "TEMPORAL_ADDRESS": self.temporal_address,
            "PLATFORM_URL": self.platform_url,
            "WORKSPACE_ID": self.workspace_id,
            "AUDIT_LOG_PATH": str(self.data_dir / "audit.jsonl"),
            "RBAC_CONFIG_PATH": str(self.workspace_config),
        }
        if not self.open_platform:
            values["WORKSPACE_TOKEN"] = workspace_token(self.token_file)
        return values

    @property
    def workspace_config(self) -> Path:
        return self.data_dir / "config.yaml"

    @property
    def verified(self) -> VerifiedDeciders | None:
        return VerifiedDeciders(self.data_dir) if self.verified_deciders else None

    @property
    def dev_channels(self) -> DevChannels | None:
        if not self.channels:
            return None
        standin, endpoint, smtp = self.channel_ports
        return DevChannels(self.data_dir, standin, endpoint, smtp)


def write_private(path: Path, text: str) -> None:
    """Write ``path`` readable by its owner only (0600), whatever it was before."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    path.chmod(0o600)


def workspace_token(path: Path) -> str:
    """The token kept in ``path``, generated (0600) on the first call."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = ""
    if not token:
        token = secrets.token_urlsafe(32)
        write_private(path, token + "\n")
    return token


def make_private(data_dir: Path) -> None:
    """The data directory and its logs 0700, its files (databases, logs, audit) 0600:
    approvals, audit and tokens are nobody else's to read. A file that goes meanwhile
    (SQLite's journal, while the server runs) is skipped."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for path in (data_dir, *data_dir.rglob("*")):
        with contextlib.suppress(FileNotFoundError):
            if not path.is_symlink():
                path.chmod(0o700 if path.is_dir() else 0o600)


def write_settings_file(config: StackConfig) -> None:
    """Write ``config.settings_file`` (dotenv, 0600: it holds the workspace token): the
    CLI, the examples and ``request_approval`` started in its directory read it;
    environment variables win."""
    lines = [
        "# Written by the dev stack (python -m durable_approvals.devstack): the settings it chose.",
        "# Read by approvals, the examples and request_approval() from this directory;",
        "# environment variables win. Rewritten at every start; delete it to stop using it.",
        *(f"{name}={value}" for name, value in config.client_settings().items()),
    ]
    write_private(config.settings_file, "\n".join(lines) + "\n")


def _exited(name: str, process: subprocess.Popen[bytes], log: Path) -> RuntimeError:
    """The error for a child that died, named, with the end of its log: the why."""
    try:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-10:]
    except OSError:
        tail = []
    lines = "".join(f"\n    {line}" for line in tail)
    return RuntimeError(f"{name} exited with status {process.returncode} ({log}):{lines}")


def _wait_for_port(
    port: int, process: subprocess.Popen[bytes], name: str, log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise _exited(name, process, log)
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not open port {port} within {timeout:.0f}s")


def _wait_for_health(
    name: str, url: str, process: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise _exited(name, process, log)
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{name} at {url} not healthy within {timeout:.0f}s")


@contextlib.contextmanager
def _child(
    name: str, argv: list[str], log: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        print(f"  stopped {name}")


def _require_free(port: int, name: str) -> None:
    """A port already taken means another stack (or server) runs: say so, do not join it."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} ({name}) is already in use: is another stack running?")


def free_metrics_port(first: int = 9464, tries: int = 10) -> int:
    """The worker's metrics port: 9464 (the usual exporter port) or the next free one
    (``first`` when all are taken: the start then says it is in use)."""
    for port in range(first, first + tries):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    return first


def run_stack(config: StackConfig) -> None:
    """Start the three processes and watch them until one exits or Ctrl-C.

    Raises:
        RuntimeError: a port is taken, a process did not start, one exited, or the
            workspace config disagrees with ``verified_deciders``.
        KeyboardInterrupt: Ctrl-C (or SIGTERM through ``main``); all are stopped.
    """
    reconcile_workspace_config(config.workspace_config, verified=config.verified_deciders)
    for port, name in (
        (config.temporal_port, "temporal"),
        (config.ui_port, "temporal ui"),
        (config.platform_port, "platform"),
        (config.metrics_port, "worker metrics"),
        *_channel_ports(config),
    ):
        _require_free(port, name)
    if config.open_platform and config.verified_deciders:
        raise RuntimeError("--open and --verified-deciders: approvers need a workspace token")
    data = config.data_dir
    logs = data / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    old_umask = os.umask(0o077)  # what the children create is private too
    try:
        _run(config, data, logs)
    finally:
        os.umask(old_umask)


def _run(config: StackConfig, data: Path, logs: Path) -> None:
    make_private(data)
    env = {
        **os.environ,
        **config.client_settings(),
        "WORKER_METRICS_ADDRESS": f"127.0.0.1:{config.metrics_port}",
    }
    token = env.pop("WORKSPACE_TOKEN", None) if not config.open_platform else None
    env.pop("PLATFORM_AUTH_TOKEN", None)  # each child gets only the secret it needs
    platform_env = {**env, "PLATFORM_AUTH_TOKEN": token} if token else dict(env)
    temporal_argv = [
        str(BIN_DIR / "temporal"),
        "server",
        "start-dev",
        "--db-filename",
        str(data / "temporal.db"),
        "--ip",
        "127.0.0.1",
        "--port",
        str(config.temporal_port),
        "--ui-port",
        str(config.ui_port),
        "--log-level",
        "warn",
        *search_attributes.DEV_SERVER_ARGS,
    ]
    platform_argv = [
        sys.executable,
        "-m",
        "durable_approvals.devstack.platform",
        "--port",
        str(config.platform_port),
        "--db",
        str(data / "platform.db"),
    ]
    worker_env = {**env, "WORKSPACE_TOKEN": token} if token else dict(env)
    verified = config.verified
    if verified is not None:
        verified.prepare()
        platform_argv += [
            "--approvers",
            str(verified.approvers_file),
            "--signing-key",
            str(verified.signing_key),
        ]
        worker_env["PLATFORM_VERIFY_KEY"] = str(verified.verify_key)
    with contextlib.ExitStack() as stack:
        temporal = stack.enter_context(
            _child("temporal", temporal_argv, logs / "temporal.log", env)
        )
        _wait_for_port(
            config.temporal_port, temporal, "temporal dev server", logs / "temporal.log", 60
        )
        platform = stack.enter_context(
            _child("platform", platform_argv, logs / "platform.log", platform_env)
        )
        _wait_for_health("platform", config.platform_url, platform, logs / "platform.log", 30)
        worker = stack.enter_context(
            _child(
                "worker",
                [sys.executable, "-m", "durable_approvals.worker"],
                logs / "worker.log",
                worker_env,
            )
        )
        children = [
            ("temporal dev server", temporal, logs / "temporal.log"),
            ("platform", platform, logs / "platform.log"),
            ("worker", worker, logs / "worker.log"),
        ]
        channels = config.dev_channels
        if channels is not None:
            children += _start_channels(stack, channels, config, logs, env)
        write_settings_file(config)
        make_private(data)
        print(_banner(config), flush=True)
        while all(process.poll() is None for _, process, _ in children):
            time.sleep(0.5)
        for name, process, log in children:
            if process.poll() is not None:
                raise _exited(name, process, log)


def _channel_ports(config: StackConfig) -> list[tuple[int, str]]:
    channels = config.dev_channels
    if channels is None:
        return []
    return [
        (channels.standin_port, "slack stand-in"),
        (channels.endpoint_port, "channel endpoint"),
        (channels.smtp_port, "smtp"),
    ]


def _start_channels(
    stack: contextlib.ExitStack,
    channels: DevChannels,
    config: StackConfig,
    logs: Path,
    env: dict[str, str],
) -> list[tuple[str, subprocess.Popen[bytes], Path]]:
    """The SMTP server (each mail written to logs/mail.log), the Slack stand-in and the
    channel endpoint."""
    channels.prepare(config.workspace_config)
    smtp = stack.enter_context(
        _child(
            "smtp",
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"127.0.0.1:{channels.smtp_port}",
                "-c",
                "aiosmtpd.handlers.Debugging",
            ],
            logs / "mail.log",
            {**env, "PYTHONUNBUFFERED": "1"},
        )
    )
    standin = stack.enter_context(
        _child(
            "slack stand-in",
            [
                sys.executable,
                "-m",
                "durable_approvals.devstack.slack_standin",
                "--port",
                str(channels.standin_port),
                "--token-file",
                str(channels.secret_file("slack-bot-token")),
                "--signing-secret-file",
                str(channels.secret_file("slack-signing-secret")),
                "--interactivity-url",
                f"{channels.endpoint_url}/slack/interactivity",
            ],
            logs / "slack-standin.log",
            env,
        )
    )
    endpoint = stack.enter_context(
        _child(
            "channel endpoint",
            [
                sys.executable,
                "-m",
                "durable_approvals.channels",
                "--port",
                str(channels.endpoint_port),
            ],
            logs / "channels.log",
            env,
        )
    )
    _wait_for_health("channel endpoint", channels.endpoint_url, endpoint, logs / "channels.log", 30)
    return [
        ("smtp", smtp, logs / "mail.log"),
        ("slack stand-in", standin, logs / "slack-standin.log"),
        ("channel endpoint", endpoint, logs / "channels.log"),
    ]


def _banner(config: StackConfig) -> str:
    return (
        _open_banner(config)
        + _verified_banner(config)
        + _channels_banner(config)
        + f"""
durable-approvals stack is up (Ctrl-C stops it; state is kept in {config.data_dir})
  Temporal        {config.temporal_address}   UI: http://127.0.0.1:{config.ui_port}
  Platform        {config.platform_url}   workspace: {config.workspace_id}
  Inbox           {config.inbox_url}
                  {_inbox_sign_in(config)}
  Worker          task queue 'approvals'; logs in {config.data_dir / "logs"}
  Metrics         http://127.0.0.1:{config.metrics_port}/metrics   (docs/observability.md)
  Audit trail     {config.data_dir / "audit.jsonl"}
  Settings        {config.settings_file} (read from its directory; env vars win)
Try, in another terminal here:
  .venv/bin/approvals request "Drop the staging database" --reason "rebuilt nightly"
"""
    )


def _channels_banner(config: StackConfig) -> str:
    channels = config.dev_channels
    if channels is None:
        return ""
    return f"""
Channels (docs/channels.md): approvers alice (U0ALICE) and bob (U0BOB)
  Slack stand-in  {channels.standin_url}   (messages and their buttons; click as a Slack user)
  Endpoint        {channels.endpoint_url}   (Slack app manifest: /slack/manifest)
  Email           every mail, with its links, in {config.data_dir / "logs" / "mail.log"}
"""


def _inbox_sign_in(config: StackConfig) -> str:
    if config.open_platform:
        return "(open: no token asked)"
    return f"(asks for the workspace token once per tab: it is in {config.token_file})"


def _open_banner(config: StackConfig) -> str:
    if not config.open_platform:
        return ""
    return """
WARNING: --open: the platform has no workspace token. Anyone who reaches it may create,
decide, expire, remind and escalate approvals; only browser pages of other origins are
refused (docs/trust-model.md). Leave --open out to get a token.
"""


def _verified_banner(config: StackConfig) -> str:
    verified = config.verified
    if verified is None:
        return ""
    tokens = "\n".join(
        f"  {name:<15} sign in with the token in {verified.token_file(name)}"
        for name in DEMO_APPROVERS
    )
    alice = verified.token_file("alice")
    return f"""
Verified deciders (docs/trust-model.md): only signed decisions of these approvers count
{tokens}
  Decide          .venv/bin/approvals decide ID --approve --token-file {alice}
"""


def main(argv: list[str] | None = None) -> int:
    """Run the stack until Ctrl-C or SIGTERM.

    Returns:
        The exit status: 0 after a stop, 1 if the stack could not run.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument(
        "--workspace-id", default=os.environ.get("WORKSPACE_ID") or "demo-workspace"
    )
    parser.add_argument(
        "--settings-file",
        type=Path,
        default=ROOT / DEFAULT_SETTINGS_FILE,
        help="where to write the settings the clients read (default: ./approvals.env)",
    )
    parser.add_argument("--temporal-port", type=int, default=7233)
    parser.add_argument("--ui-port", type=int, default=8233)
    parser.add_argument("--platform-port", type=int, default=8080)
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="the worker's /metrics (default: 9464 or the next free port)",
    )
    parser.add_argument(
        "--verified-deciders",
        action="store_true",
        help="approvers sign in (demo tokens under the data directory), the platform signs "
        "decisions and the workspace takes only signed ones (docs/trust-model.md)",
    )
    parser.add_argument(
        "--channels",
        action="store_true",
        help="the Slack stand-in, a local SMTP server and the channel endpoint: approve "
        "from a Slack message or an email link (docs/channels.md)",
    )
    parser.add_argument("--slack-standin-port", type=int, default=STANDIN_PORT)
    parser.add_argument("--channels-port", type=int, default=ENDPOINT_PORT)
    parser.add_argument("--smtp-port", type=int, default=SMTP_PORT)
    parser.add_argument(
        "--open",
        action="store_true",
        help="run the platform without a workspace token (prints a warning): anyone who "
        "reaches it may use it",
    )
    args = parser.parse_args(argv)
    config = StackConfig(
        data_dir=args.data_dir.resolve(),
        workspace_id=args.workspace_id,
        temporal_port=args.temporal_port,
        ui_port=args.ui_port,
        platform_port=args.platform_port,
        metrics_port=args.metrics_port or free_metrics_port(),
        settings_file=args.settings_file.resolve(),
        verified_deciders=args.verified_deciders,
        channels=args.channels,
        channel_ports=(args.slack_standin_port, args.channels_port, args.smtp_port),
        open_platform=args.open,
    )
    # Both stop the stack, even when started in the background with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        run_stack(config)
    except KeyboardInterrupt:
        print("stopped.")
        return 0
    except RuntimeError as error:
        print(f"stack: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
