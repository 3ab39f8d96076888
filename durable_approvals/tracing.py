"""OpenTelemetry tracing, the Temporal way: the SDK's ``TracingInterceptor``.

Spans: the agent's ``StartWorkflow`` (when the agent process has a tracer
provider), the worker's ``RunWorkflow``/``HandleSignal``/``StartActivity`` and
``RunActivity`` spans, and the listener's ``SignalWorkflow``. Each activity span
of an approval carries its audit ``trace_id`` (``approvals.trace_id``, the one
in every audit record and in the agent's result), its ``approvals.approval_id``
and ``approvals.workspace``: :class:`ApprovalSpans` passes them from the workflow
to its activities in a header, which is not part of the workflow's history.

Optional: OpenTelemetry comes with the ``worker`` extra. Without it, or without a
tracer provider, nothing here does anything. The worker installs one when
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is
set, and the exporter reads the other standard ``OTEL_*`` variables.
docs/observability.md says how to see the traces.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import temporalio.client
import temporalio.converter
import temporalio.worker
from temporalio import workflow
from temporalio.api.common.v1 import Payload

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.trace import TracerProvider

logger = logging.getLogger(__name__)

SPAN_HEADER = "approvals-span-attributes"
TRACE_ID = "approvals.trace_id"
APPROVAL_ID = "approvals.approval_id"
WORKSPACE = "approvals.workspace"
DEFAULT_SERVICE_NAME = "durable-approvals-worker"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
INSTALL_HINT = "pip install 'durable-approvals[worker]'"

_converter = temporalio.converter.PayloadConverter.default


class TracingUnavailableError(RuntimeError):
    """OTLP export is asked for, but OpenTelemetry is not installed."""


def otlp_endpoint_set(environ: Mapping[str, str] = os.environ) -> str | None:
    """The name of the ``OTEL_*`` endpoint variable that is set, if any."""
    return next((name for name in ENDPOINT_VARIABLES if environ.get(name, "").strip()), None)


def install_otlp_from_env(environ: Mapping[str, str] = os.environ) -> SdkTracerProvider | None:
    """When an OTLP endpoint is set: a global tracer provider exporting over OTLP/HTTP.

    Returns it (to shut down, which flushes the last spans), or ``None`` when no
    endpoint is set.
    """
    variable = otlp_endpoint_set(environ)
    if variable is None:
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as error:
        raise TracingUnavailableError(
            f"{variable} is set but OpenTelemetry is not installed ({error.name or error}): "
            f"{INSTALL_HINT}, or unset {variable}"
        ) from None
    named = environ.get("OTEL_SERVICE_NAME") or "service.name=" in environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    resource = Resource.create({} if named else {"service.name": DEFAULT_SERVICE_NAME})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def configured_tracer_provider() -> TracerProvider | None:
    """The process's global tracer provider, unless it is OpenTelemetry's do-nothing default."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    return provider


def worker_interceptors(
    tracer_provider: TracerProvider | None = None,
) -> list[temporalio.client.Interceptor]:
    """The worker's client interceptors: tracing with approval attributes, or none.

    ``tracer_provider`` defaults to the global one; without either, tracing is off.
    Workflow spans are made even for workflows started by an agent that does not
    trace (the CLI): after a worker restart the rest of such a workflow's spans
    start a new trace, and ``approvals.trace_id`` joins them.
    """
    provider = tracer_provider or configured_tracer_provider()
    if provider is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    tracer = provider.get_tracer("durable-approvals")
    return [TracingInterceptor(tracer, always_create_workflow_spans=True), ApprovalSpans()]


def client_interceptors() -> list[temporalio.client.Interceptor]:
    """The agent's: its ``StartWorkflow`` span becomes the approval's parent, when the
    agent process has a tracer provider of its own; else none."""
    if configured_tracer_provider() is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


class ApprovalSpans(temporalio.client.Interceptor, temporalio.worker.Interceptor):
    """Puts the approval's ``trace_id``, approval id and workspace on its activity spans.

    The workflow side adds them to each activity's headers (read from the
    workflow's ``span_attributes()``); the activity side sets them on the current
    span, the one ``TracingInterceptor`` (listed before this) opened.
    """

    def workflow_interceptor_class(
        self, input: temporalio.worker.WorkflowInterceptorClassInput
    ) -> type[temporalio.worker.WorkflowInboundInterceptor]:
        return _WorkflowInbound

    def intercept_activity(
        self, next: temporalio.worker.ActivityInboundInterceptor
    ) -> temporalio.worker.ActivityInboundInterceptor:
        return _ActivityInbound(next)


def _with_span_header(headers: Mapping[str, Payload]) -> Mapping[str, Payload]:
    describe = getattr(workflow.instance(), "span_attributes", None)
    attributes = describe() if callable(describe) else None
    if not attributes:
        return headers
    return {**headers, SPAN_HEADER: _converter.to_payloads([attributes])[0]}


class _WorkflowInbound(temporalio.worker.WorkflowInboundInterceptor):
    def init(self, outbound: temporalio.worker.WorkflowOutboundInterceptor) -> None:
        super().init(_WorkflowOutbound(outbound))


class _WorkflowOutbound(temporalio.worker.WorkflowOutboundInterceptor):
    def start_activity(
        self, input: temporalio.worker.StartActivityInput
    ) -> workflow.ActivityHandle[Any]:
        input.headers = _with_span_header(input.headers)
        return super().start_activity(input)

    def start_local_activity(
        self, input: temporalio.worker.StartLocalActivityInput
    ) -> workflow.ActivityHandle[Any]:
        input.headers = _with_span_header(input.headers)
        return super().start_local_activity(input)


class _ActivityInbound(temporalio.worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: temporalio.worker.ExecuteActivityInput) -> Any:
        payload = input.headers.get(SPAN_HEADER)
        if payload is not None:
            _annotate_current_span(payload)
        return await super().execute_activity(input)


def _annotate_current_span(payload: Payload) -> None:
    try:
        from opentelemetry import trace
    except ImportError:
        return
    try:
        attributes = _converter.from_payloads([payload])[0]
    except (RuntimeError, TypeError, ValueError) as error:
        logger.debug("unreadable %s header: %s", SPAN_HEADER, error)
        return
    if isinstance(attributes, dict):
        trace.get_current_span().set_attributes(
            {str(k): str(v) for k, v in attributes.items() if v is not None}
        )
