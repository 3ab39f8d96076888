"""One way to reach Temporal, shared by the worker, the agent API and the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from temporalio.client import Client, Interceptor
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from durable_approvals import tracing
from durable_approvals.converter import data_converter
from durable_approvals.settings import Settings


class ConnectionSettingsError(ValueError):
    """TLS settings that cannot work (a key without its certificate, an unreadable file)."""


def _read(path: Path | None, name: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConnectionSettingsError(f"{name} unreadable: {path} ({error.strerror})") from error


def tls_config(settings: Settings) -> TLSConfig | bool:
    """``False`` for plain TCP, ``True`` for TLS with system roots (API key alone), else a
    ``TLSConfig``.

    Raises:
        ConnectionSettingsError: a key without its certificate, an unreadable file.
    """
    cert = _read(settings.temporal_tls_cert, "TEMPORAL_TLS_CERT")
    key = _read(settings.temporal_tls_key, "TEMPORAL_TLS_KEY")
    ca = _read(settings.temporal_tls_ca, "TEMPORAL_TLS_CA")
    if (cert is None) != (key is None):
        raise ConnectionSettingsError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together")
    if cert is None and ca is None:
        return settings.temporal_api_key is not None
    return TLSConfig(server_root_ca_cert=ca, client_cert=cert, client_private_key=key)


async def connect(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] | None = None,
) -> Client:
    """A Temporal client for these settings, with this project's data converter.

    The worker passes its ``runtime`` (Prometheus metrics) and its tracing
    ``interceptors``; by default the client traces when the process has an
    OpenTelemetry tracer provider (durable_approvals/tracing.py).

    Raises:
        ConnectionSettingsError: unusable TLS settings.
        RuntimeError: the server cannot be reached.
    """
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter,
        tls=tls_config(settings),
        api_key=api_key or None,
        runtime=runtime,
        interceptors=tracing.client_interceptors() if interceptors is None else interceptors,
    )
