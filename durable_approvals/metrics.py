"""This project's metrics, recorded through the Temporal SDK's metric meter.

The worker's ``Runtime`` serves Prometheus (``WORKER_METRICS_ADDRESS``): the
SDK's own ``temporal_*`` metrics and these ``approvals_*`` ones come out of the
same ``/metrics``. Every recorder takes a :class:`~temporalio.common.MetricMeter`:
``workflow.metric_meter()`` in workflow code (the SDK records nothing while
replaying), ``activity.metric_meter()`` in activities. On a runtime without
metrics the meter is a no-op. Names, labels and units: docs/observability.md.
"""

from __future__ import annotations

import ipaddress

from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

DECISIONS = "approvals_decisions"
DECISION_LATENCY = "approvals_decision_latency_seconds"
PENDING = "approvals_pending"
LISTENER_CONNECTED = "approvals_listener_connected"
LISTENER_RECONNECTS = "approvals_listener_reconnects"
LISTENER_PREFIX = "approvals_listener_"
PLATFORM_CALL_ERRORS = "approvals_platform_call_errors"

NO_SOURCE = "none"
"""The ``source`` of an outcome no decision made (timeout, cancelled, failure, RBAC)."""

LATENCY_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1_800, 3_600, 7_200, 14_400, 43_200, 86_400)
"""Seconds: a human answers in seconds to hours (the SDK's default buckets are milliseconds)."""

LISTENER_COUNTERS = {
    "frames": "socket frames received",
    "signalled": "decisions delivered to their workflow by signal",
    "catch_up_reads": "platform reads by catch-up, reconciliation and poll passes",
    "poll_passes": "poll passes while the socket is down (or off)",
    "unowned_events": "decisions no running workflow owned within the grace period",
    "unreadable": "pending approvals beyond the platform's newest 50 that cannot be read",
    "skipped_items": "oversized or malformed items skipped in the platform's list replies",
    "owners_learned": "approval owners learned from APPROVAL_REQUESTED events",
    "owner_lookups": "owner look-ups in visibility for a decision's unknown approval",
    "listed": "workflows read from visibility by the listings of the passes",
}
"""The listener's counters exported as ``approvals_listener_<name>`` (the report's, and
``listed``)."""


def parse_metrics_address(value: str) -> str:
    """``IP:port`` as the SDK's Prometheus server binds it (``[v6]:port`` for IPv6), or ``""``.

    A host name is refused: the SDK parses a socket address, not a name.
    """
    value = value.strip()
    if not value:
        return ""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65_536:
        raise ValueError(f"{value!r} is not IP:port (e.g. 127.0.0.1:9464)")
    try:
        ip = ipaddress.ip_address(host[1:-1] if host.startswith("[") else host)
    except ValueError:
        raise ValueError(
            f"{value!r}: the host must be an IP address (127.0.0.1, 0.0.0.0, [::1]), not a name"
        ) from None
    if ip.version == 6 and not host.startswith("["):
        raise ValueError(f"{value!r}: write an IPv6 address in brackets, e.g. [::1]:9464")
    return value


def prometheus_runtime(address: str) -> Runtime | None:
    """A runtime serving ``http://<address>/metrics``; ``None`` when ``address`` is empty.

    Raises ``ValueError`` when the SDK cannot bind it (in use, not an address).
    """
    if not address:
        return None
    prometheus = PrometheusConfig(
        bind_address=address,
        histogram_bucket_overrides={DECISION_LATENCY: [float(b) for b in LATENCY_BUCKETS]},
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


def approval_ended(
    meter: MetricMeter,
    *,
    workspace: str,
    outcome: str,
    source: str,
    latency_seconds: float | None,
) -> None:
    """One finished approval: its outcome and, for a human decision, how long it took."""
    labels = {"workspace": workspace, "outcome": outcome, "source": source}
    meter.create_counter(DECISIONS, "Approvals finished, by outcome and decision path").add(
        1, labels
    )
    if latency_seconds is not None:
        meter.create_histogram_float(
            DECISION_LATENCY, "From the request to the workflow's having the decision", "s"
        ).record(max(0.0, latency_seconds), labels)


def platform_call_error(meter: MetricMeter, operation: str, error_type: str) -> None:
    meter.create_counter(PLATFORM_CALL_ERRORS, "Failed calls to the approvals platform").add(
        1, {"operation": operation, "error_type": error_type}
    )


class ListenerMetrics:
    """The workspace listener's gauges and counters, for one session."""

    def __init__(self, meter: MetricMeter, workspace: str) -> None:
        meter = meter.with_additional_attributes({"workspace": workspace})
        self._meter = meter
        self._connected = meter.create_gauge(
            LISTENER_CONNECTED, "1 while the listener's platform socket is open"
        )
        self._reconnects = meter.create_counter(
            LISTENER_RECONNECTS, "Socket opens after the session's first"
        )
        self._pending = meter.create_gauge(
            PENDING, "Approvals waiting for a decision (as of the listener's last pass)"
        )
        self._counters = {
            name: meter.create_counter(LISTENER_PREFIX + name, description)
            for name, description in LISTENER_COUNTERS.items()
        }
        self._opened = 0

    def socket_open(self) -> None:
        if self._opened:
            self._reconnects.add(1)
        self._opened += 1
        self._connected.set(1)

    def socket_closed(self) -> None:
        self._connected.set(0)

    def session_ended(self) -> None:
        """Zero the gauges: the next session may run on another worker, whose values count."""
        self._connected.set(0)
        self._pending.set(0)

    def pending(self, count: int) -> None:
        self._pending.set(count)

    def count(self, name: str, by: int = 1) -> None:
        counter = self._counters.get(name)
        if counter is not None and by > 0:
            counter.add(by)

    def platform_error(self, operation: str, error_type: str) -> None:
        platform_call_error(self._meter, operation, error_type)
