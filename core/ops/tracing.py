"""OpenTelemetry tracing, configured the OpenTelemetry way: from the standard OTEL_* environment variables.

Tracing is on when the environment names somewhere to send spans — `OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (OTLP over HTTP/protobuf), or `OTEL_TRACES_EXPORTER` (`otlp`, `console`;
`none` keeps it off) — and `OTEL_SDK_DISABLED` is not `true`. With nothing set, no provider, processor or exporter
exists and the traced points are no-ops (connectors/tracing.py). The SDK itself reads the rest: `OTEL_SERVICE_NAME`
and `OTEL_RESOURCE_ATTRIBUTES` (the resource), `OTEL_TRACES_SAMPLER` / `…_ARG` (default: parent-based, always on),
`OTEL_BSP_*` (the batch processor), `OTEL_EXPORTER_OTLP_*` (endpoint, headers, timeout, compression).

The batch span processor's exporter hands each batch to a helper process that encodes and sends it
(core/ops/export_process.py): encoding in the serving process cost as much CPU as making the spans.
Why OTLP over HTTP and not gRPC: the gRPC exporter pulls grpcio (a large native wheel) for no gain here.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Mapping

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from connectors import tracing
from core.ops.export_process import ProcessExporter

log = logging.getLogger(__name__)
_provider: list[TracerProvider] = []


def wanted_exporter(env: Mapping[str, str]) -> str | None:
    """Which exporter the environment asks for: "otlp", "console", or None (tracing off)."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    named = [e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",") if e.strip()]
    if named:
        if "none" in named:
            return None
        return "console" if named == ["console"] else "otlp"
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return "otlp"
    return None


def resource(service_name: str) -> Resource:
    """The SDK's resource from the environment, named `service_name` unless the environment names it."""
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    return Resource.create({} if named else {"service.name": service_name})


def install(processor: SpanProcessor, service_name: str = "gerbang") -> TracerProvider:
    """Trace into `processor` from now on (tests use the SDK's in-memory exporter through this)."""
    provider = TracerProvider(resource=resource(service_name))
    provider.add_span_processor(processor)
    shutdown()
    _provider.append(provider)
    tracer = provider.get_tracer("gerbang")
    assert isinstance(tracer, SdkTracer)  # the SDK's: the request span reads its sampler and processors
    tracing.use(tracer)
    return provider


def setup(service_name: str = "gerbang", env: Mapping[str, str] | None = None) -> bool:
    """Tracing on if the environment asks for it (idempotent); True when on. `service_name` unless
    OTEL_SERVICE_NAME says otherwise: `gerbang-api` or `gerbang-worker`."""
    if _provider:
        return True
    kind = wanted_exporter(os.environ if env is None else env)
    if kind is None:
        return False
    install(BatchSpanProcessor(ProcessExporter(kind, resource(service_name))), service_name)
    atexit.register(shutdown)
    log.info("tracing on: exporting spans (%s)", kind)
    return True


def shutdown() -> None:
    """Flush and stop the provider, if one runs; the traced points become no-ops again."""
    tracing.use(None)
    while _provider:
        _provider.pop().shutdown()
