"""Metrics and traces (docs/observability.md), against a real dev server and platform.

The worker's Temporal runtime serves Prometheus: the SDK's ``temporal_*`` metrics
and this project's ``approvals_*`` come out of one ``/metrics``, scraped here over
HTTP as Prometheus would. Traces go through the SDK's ``TracingInterceptor`` into
an in-memory exporter, and from a real ``python worker.py`` over OTLP/HTTP to a
receiver in this test.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig
from temporalio.worker import Replayer

from durable_approvals import errors, metrics, tracing, worker
from durable_approvals.client import start_approval
from durable_approvals.connection import connect
from durable_approvals.converter import data_converter
from durable_approvals.models import ApprovalStatus
from durable_approvals.settings import Settings
from durable_approvals.workflows.approval import ApprovalWorkflow
from tests.helpers import (
    WORKSPACE,
    approval_request,
    audit_records,
    eventually,
    platform_client,
    running_worker,
    spawn_worker,
    start,
    wait_pending,
)
from tests.test_replay import history_files, recorded_histories
from tests.test_stack import free_ports

TRACE_ID = "trace-observability-1"


def on_dev_server(client: Client, settings: Settings, **updates: Any) -> Settings:
    return settings.model_copy(
        update={
            "temporal_address": client.service_client.config.target_host,
            "temporal_namespace": client.namespace,
            **updates,
        }
    )


def parse(text: str) -> list[Sample]:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def matches(sample: Sample, name: str, labels: dict[str, str]) -> bool:
    # The parser names a counter's samples <name>_total; the SDK serves them as <name>.
    return sample.name in (name, f"{name}_total") and labels.items() <= sample.labels.items()


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels`` (0 if none)."""
    return sum(s.value for s in samples if matches(s, name, labels))


def present(samples: list[Sample], name: str, **labels: str) -> bool:
    return any(matches(s, name, labels) for s in samples)


class Scraper:
    def __init__(self, http: httpx.AsyncClient, port: int) -> None:
        self._http = http
        self.url = f"http://127.0.0.1:{port}/metrics"

    async def __call__(self) -> list[Sample]:
        response = await self._http.get(self.url)
        response.raise_for_status()
        return parse(response.text)

    async def until(self, check: Any, timeout: float = 20.0) -> list[Sample]:
        """Scrape until ``check(samples)`` holds; returns those samples."""

        async def scraped() -> list[Sample] | None:
            samples = await self()
            return samples if check(samples) else None

        try:
            found: list[Sample] = await eventually(scraped, timeout=timeout, interval=0.2)
        except AssertionError:  # show what was there
            print(*(s for s in await self() if s.name.startswith("approvals_")), sep="\n")
            raise
        return found


# --- metrics ---------------------------------------------------------------------------


async def test_scrape_after_a_real_approval_finds_the_counters_moved(dev_env, settings, platform):
    port = free_ports(1)[0]
    runtime = metrics.prometheus_runtime(f"127.0.0.1:{port}")
    client = await connect(on_dev_server(dev_env.client, settings), runtime=runtime)
    async with running_worker(client, settings) as task_queue, httpx.AsyncClient() as http:
        scrape = Scraper(http, port)
        queue = {"task_queue": task_queue}
        ours = {**queue, "workspace": WORKSPACE}
        began = time.monotonic()
        handle = await start(client, task_queue)
        approval_id = await wait_pending(handle)
        await scrape.until(
            lambda s: (
                value(s, metrics.LISTENER_CONNECTED, **ours) == 1
                and value(s, metrics.PENDING, **ours) == 1
            )
        )

        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="alice")
        result = await asyncio.wait_for(handle.result(), 30)
        took = time.monotonic() - began
        assert result.status is ApprovalStatus.GRANTED
        via = audit_records(settings)[-1]["via"]

        decided = {**ours, "outcome": "granted", "source": via}
        s = await scrape.until(lambda s: value(s, metrics.DECISIONS, **decided) == 1)
        assert value(s, metrics.DECISIONS, **ours) == 1  # nothing else counted
        latency = metrics.DECISION_LATENCY
        assert value(s, f"{latency}_count", **decided) == 1
        assert 0 < value(s, f"{latency}_sum", **decided) <= took
        assert value(s, f"{latency}_bucket", **decided, le="+Inf") == 1
        assert value(s, "approvals_listener_catch_up_reads", **ours) >= 1
        # The SDK's own metrics, from the same endpoint.
        assert value(s, "temporal_workflow_completed", **queue, workflow_type="ApprovalWorkflow")
        assert present(s, "temporal_request", namespace=client.namespace)
        await scrape.until(lambda s: value(s, metrics.PENDING, **ours) == 0)

        # The socket drops: counted, and the listener is connected again.
        await platform.hub.drop_all()
        await scrape.until(
            lambda s: (
                value(s, metrics.LISTENER_RECONNECTS, **ours) == 1
                and value(s, metrics.LISTENER_CONNECTED, **ours) == 1
                and value(s, metrics.PLATFORM_CALL_ERRORS, **queue, operation="websocket") >= 1
            )
        )

        # The platform refuses a create: an error of the create activity, and an approval
        # that ends as a failure with no decision behind it.
        platform.faults.create_status = 400
        platform.faults.create_body = '{"error": "invalid request body"}'
        failed = await start(client, task_queue)
        assert (await asyncio.wait_for(failed.result(), 30)).status is ApprovalStatus.FAILURE
        refused = {**queue, "operation": "create_approval", "error_type": errors.PLATFORM_REJECTED}
        await scrape.until(
            lambda s: (
                value(s, metrics.PLATFORM_CALL_ERRORS, **refused) == 1
                and value(s, metrics.DECISIONS, **ours, outcome="failure", source="none") == 1
            )
        )


def test_listener_gauges_and_reconnects_per_session():
    """Reconnects count the socket opens after a session's first; a session that ends
    zeroes its gauges, so a fleet's sum (or max) shows the worker that listens now."""
    buffer = MetricBuffer(1_000)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    listener = metrics.ListenerMetrics(runtime.metric_meter, WORKSPACE)
    listener.socket_open()
    listener.pending(3)
    listener.socket_closed()
    listener.socket_open()
    listener.session_ended()
    updates = [
        (u.metric.name, u.value)
        for u in buffer.retrieve_updates()
        if u.attributes.get("workspace") == WORKSPACE
    ]
    assert updates == [
        (metrics.LISTENER_CONNECTED, 1),
        (metrics.PENDING, 3),
        (metrics.LISTENER_CONNECTED, 0),
        (metrics.LISTENER_RECONNECTS, 1),
        (metrics.LISTENER_CONNECTED, 1),
        (metrics.LISTENER_CONNECTED, 0),
        (metrics.PENDING, 0),
    ]


def test_metrics_address_setting():
    assert Settings().worker_metrics_address == "127.0.0.1:9464"
    for good in ("0.0.0.0:9464", "[::1]:9000", ""):
        assert Settings(worker_metrics_address=good).worker_metrics_address == good
    for bad in ("localhost:9464", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "::1:9464"):
        with pytest.raises(ValidationError, match="WORKER_METRICS_ADDRESS"):
            Settings(worker_metrics_address=bad)
    assert metrics.prometheus_runtime("") is None


def test_a_worker_whose_metrics_port_is_taken_says_which_setting_to_change():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(worker.StartupError) as refused:
            worker.start_telemetry(Settings(worker_metrics_address=address))
    assert refused.value.message.startswith(f"WORKER_METRICS_ADDRESS={address} unusable")
    assert "in use" in refused.value.message


# --- traces ----------------------------------------------------------------------------


def in_memory_tracing() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def attribute(span: ReadableSpan, key: str) -> Any:
    return (span.attributes or {}).get(key)


async def test_spans_of_an_approval_share_a_trace_and_carry_its_audit_trace_id(
    dev_env, settings, platform
):
    provider, exporter = in_memory_tracing()
    temporal = on_dev_server(dev_env.client, settings)
    worker_client = await connect(temporal, interceptors=tracing.worker_interceptors(provider))
    agent_tracer = provider.get_tracer("agent")
    agent = await connect(temporal, interceptors=[TracingInterceptor(agent_tracer)])
    async with running_worker(worker_client, settings) as task_queue:
        agent_settings = temporal.model_copy(update={"temporal_task_queue": task_queue})
        handle = await start_approval(
            agent, agent_settings, "Drop the staging database", "rebuilt", trace_id=TRACE_ID
        )
        approval_id = await wait_pending(handle)
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="alice")
        result = await asyncio.wait_for(handle.result(), 30)
    assert result.trace_id == TRACE_ID
    assert {r["trace_id"] for r in audit_records(settings)} == {TRACE_ID}

    spans = [
        s for s in exporter.get_finished_spans() if attribute(s, "temporalWorkflowID") == handle.id
    ]
    names = {s.name for s in spans}
    assert {
        "StartWorkflow:ApprovalWorkflow",
        "RunWorkflow:ApprovalWorkflow",
        "RunActivity:check_permission",
        "RunActivity:create_approval",
        "RunActivity:read_decision",
        "RunActivity:write_audit",
        "CompleteWorkflow:ApprovalWorkflow",
    } <= names, names
    # One trace from the agent's start to the workflow's completion; queries (the
    # agent's) and the listener's signal are traces of their own.
    [started] = [s for s in spans if s.name == "StartWorkflow:ApprovalWorkflow"]
    own_traces = ("QueryWorkflow:", "HandleQuery:", "SignalWorkflow:")
    run = [s for s in spans if not s.name.startswith(own_traces)]
    assert {s.context.trace_id for s in run} == {started.context.trace_id}

    activities = [s for s in spans if s.name.startswith("RunActivity:")]
    assert len(activities) >= 5
    for span in activities:
        assert attribute(span, tracing.TRACE_ID) == TRACE_ID, span.name
        assert attribute(span, tracing.WORKSPACE) == WORKSPACE, span.name
    for span in activities:  # known once created
        if span.name not in ("RunActivity:check_permission", "RunActivity:create_approval"):
            assert attribute(span, tracing.APPROVAL_ID) == approval_id, span.name


def test_without_a_tracer_provider_nothing_traces(monkeypatch):
    assert tracing.configured_tracer_provider() is None  # the suite installs no global one
    assert tracing.worker_interceptors() == []
    assert tracing.client_interceptors() == []
    provider, _ = in_memory_tracing()
    monkeypatch.setattr(tracing, "configured_tracer_provider", lambda: provider)
    [interceptor] = tracing.client_interceptors()  # an agent that traces joins its trace
    assert isinstance(interceptor, TracingInterceptor)


def test_an_otlp_endpoint_without_opentelemetry_is_a_startup_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    with pytest.raises(worker.StartupError) as refused:
        worker.start_telemetry(Settings(worker_metrics_address=""))
    assert refused.value.message.startswith("OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry")
    assert tracing.INSTALL_HINT in refused.value.message
    assert tracing.configured_tracer_provider() is None


async def test_recorded_histories_replay_with_tracing_on():
    """The tracing headers ride on the activities, not in the workflow's commands."""
    provider, _ = in_memory_tracing()
    replayer = Replayer(
        workflows=[ApprovalWorkflow],
        data_converter=data_converter,
        interceptors=tracing.worker_interceptors(provider),  # type: ignore[arg-type]
    )
    histories = recorded_histories(history_files())
    results = await replayer.replay_workflows(histories, raise_on_replay_failure=False)
    assert {run: str(e) for run, e in results.replay_failures.items() if e} == {}


# --- a real worker process: Prometheus and OTLP as an operator sets them ------------------


class OtlpReceiver(http.server.BaseHTTPRequestHandler):
    """Collects what an OTLP/HTTP exporter posts to ``/v1/traces``."""

    spans: list[Any]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend(scope_spans.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def otlp_receiver(port: int) -> Iterator[list[Any]]:
    spans: list[Any] = []
    handler = type("Handler", (OtlpReceiver,), {"spans": spans})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield spans
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def span_attributes(span: Any) -> dict[str, str]:
    return {a.key: a.value.string_value for a in span.attributes}


async def test_a_worker_process_serves_metrics_and_exports_spans(
    dev_env, settings, platform, tmp_path
):
    metrics_port, otlp_port = free_ports(2)
    task_queue = f"tq-observed-{time.monotonic_ns()}"
    client = dev_env.client
    with otlp_receiver(otlp_port) as spans:
        process = spawn_worker(
            client,
            settings,
            task_queue,
            tmp_path / "worker.log",
            WORKER_METRICS_ADDRESS=f"127.0.0.1:{metrics_port}",
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{otlp_port}",
            OTEL_BSP_SCHEDULE_DELAY="100",
        )
        try:
            async with httpx.AsyncClient() as http:
                scrape = Scraper(http, metrics_port)
                handle = await start(client, task_queue, approval_request(trace_id=TRACE_ID))
                approval_id = await wait_pending(handle, timeout=60)
                async with platform_client(settings) as api:
                    await api.decide(approval_id, approved=False, decided_by="bob")
                result = await asyncio.wait_for(handle.result(), 30)
                assert result.status is ApprovalStatus.DENIED
                denied = {"task_queue": task_queue, "workspace": WORKSPACE, "outcome": "denied"}
                await scrape.until(lambda s: value(s, metrics.DECISIONS, **denied) == 1)

            def exported() -> list[Any]:
                return [
                    s
                    for s in list(spans)
                    if span_attributes(s).get(tracing.APPROVAL_ID) == approval_id
                ]

            async def audited() -> bool:
                return any(s.name == "RunActivity:write_audit" for s in exported())

            await eventually(audited, timeout=20)
        finally:
            process.terminate()
            await asyncio.to_thread(process.wait, 30)
    for span in exported():
        assert span_attributes(span)[tracing.TRACE_ID] == TRACE_ID
    log = (tmp_path / "worker.log").read_text(encoding="utf-8")
    assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in log
    assert "tracing on" in log
