"""A fork of the OpenTelemetry SDK's `Span` for one span only, an API request's SERVER span: `RequestSpan` records
it by hand and hands it to the SDK's span processors as the SDK's own `ReadableSpan` when it ends — the sampler,
the ids, the resource, the processors and exporters are the SDK's. Checked against the opentelemetry-api and
opentelemetry-sdk 1.45 series (pinned in pyproject.toml); tests/connectors/test_otel_request_span.py holds what it
exports equal to what the SDK's ordinary `start_as_current_span(kind=SERVER)` exports for the same request.

Why by hand: it is the one span of every request, and a warm lookup is ~250 µs in all; with the SDK's `Span` (a
lock, validated attribute containers, a copy into a `ReadableSpan` at its end) the traced middleware cost ~52 µs
per request, with this ~18 µs (~5 µs untraced; docs/operations.md, "What it costs").
"""

from __future__ import annotations

import time
from contextvars import Token
from typing import Any

from opentelemetry import trace as otel
from opentelemetry.context import Context, attach, detach
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from connectors import tracing

_UNSET = Status(StatusCode.UNSET)


class RequestSpan:
    """An API request's SERVER span, a child of the counter's trace if it sent one. Inside it, its context is
    current (children, agency calls and the outbox row take it as their parent) and `tracing.note()` adds to its
    attributes. Span processors' `on_start` is not called (the batch and simple processors do nothing there).
    Only with tracing on (`tracing.use()`)."""

    __slots__ = ("tracer", "name", "context", "parent", "recording", "attributes", "status", "start", "_tokens")

    def __init__(self, name: str, counter: tracing.Trace | None) -> None:
        installed = tracing.tracer()
        assert installed is not None
        self.tracer: SdkTracer = installed
        parent_context = tracing.remote_context(counter)
        self.parent = otel.get_current_span(parent_context).get_span_context() if counter is not None else None
        trace_id = self.parent.trace_id if self.parent is not None else installed.id_generator.generate_trace_id()
        sampled = installed.sampler.should_sample(parent_context, trace_id, name, SpanKind.SERVER)
        flags = TraceFlags(TraceFlags.SAMPLED if sampled.decision.is_sampled() else TraceFlags.DEFAULT)
        span_id = installed.id_generator.generate_span_id()
        self.context = SpanContext(trace_id, span_id, False, flags, sampled.trace_state)
        self.name, self.recording, self.status = name, sampled.decision.is_recording(), _UNSET
        self.attributes: dict[str, Any] = dict(sampled.attributes or {})
        self.start = time.time_ns()
        self._tokens: tuple[Token[Context], Token[dict[str, Any] | None]] | None = None

    def trace(self) -> tracing.Trace:
        """The span as the W3C trace the logs and agency calls read (`tracing.current`)."""
        ctx = self.context
        return tracing.Trace(f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}", f"{ctx.trace_flags:02x}")

    def __enter__(self) -> RequestSpan:
        span_now = otel.set_span_in_context(NonRecordingSpan(self.context))
        self._tokens = attach(span_now), tracing.request_attributes.set(self.attributes)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        assert self._tokens is not None
        detach(self._tokens[0])
        tracing.request_attributes.reset(self._tokens[1])
        if exc_type is not None:
            self.status = Status(StatusCode.ERROR, exc_type.__name__)
        if self.recording:
            ended = ReadableSpan(
                self.name,
                self.context,
                self.parent,
                self.tracer.resource,
                self.attributes,
                kind=SpanKind.SERVER,
                status=self.status,
                start_time=self.start,
                end_time=time.time_ns(),
                instrumentation_scope=self.tracer._instrumentation_scope,  # the SDK's own (its version "", not None)
            )
            self.tracer.span_processor.on_end(ended)
