"""Spans encoded and sent by a helper process, so that exporting them costs the serving process next to nothing.

Encoding a span to OTLP protobuf costs the batch exporter about as much CPU as making the span (~15 µs each,
measured on the development machine), and in the API or worker process that thread takes the interpreter lock from
requests. So the batch span processor's exporter here only turns each batch into plain tuples and pickles it onto
a pipe (~2 µs a span); a child process (`python -m core.ops.export_process <kind>`, started with the provider)
rebuilds the SDK's `ReadableSpan`s and hands them to the real exporter (OTLP/HTTP or console), which reads the same
OTEL_* environment it would read in-process. The child lives as long as the pipe: closing it (provider shutdown,
or the parent gone) makes the child export what it holds and exit. Dropped-attribute counts are not carried:
Gerbang's spans stay far under the SDK's limits.
"""

from __future__ import annotations

import logging
import pickle
import signal
import struct
import subprocess
import sys
from collections.abc import Sequence
from typing import IO, Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

log = logging.getLogger(__name__)
_LENGTH = struct.Struct("!I")


def exporter_of(kind: str) -> SpanExporter:
    """The exporter the environment asked for (core/ops/tracing.py `wanted_exporter`): "console" or "otlp"."""
    if kind == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # only when exporting

    return OTLPSpanExporter()


def _context(ctx: SpanContext) -> tuple[int, int, bool, int]:
    return ctx.trace_id, ctx.span_id, ctx.is_remote, int(ctx.trace_flags)


def flat(span: ReadableSpan) -> tuple[Any, ...]:
    """One span as plain, picklable values (the SDK's span objects hold locks)."""
    scope = span.instrumentation_scope
    return (
        span.name,
        _context(span.context) if span.context is not None else None,
        _context(span.parent) if span.parent is not None else None,
        span.kind.value,
        span.start_time,
        span.end_time,
        dict(span.attributes or {}),
        [(e.name, e.timestamp, dict(e.attributes or {})) for e in span.events],
        [(_context(link.context), dict(link.attributes or {})) for link in span.links],
        span.status.status_code.value,
        span.status.description,
        (scope.name, scope.version) if scope is not None else None,
    )


def _span_context(values: tuple[int, int, bool, int]) -> SpanContext:
    trace_id, span_id, remote, flags = values
    return SpanContext(trace_id, span_id, remote, TraceFlags(flags))


def rebuilt(values: tuple[Any, ...], resource: Resource) -> ReadableSpan:
    """The `ReadableSpan` a `flat()` tuple stands for, as the exporter reads it."""
    name, context, parent, kind, start, end, attributes, events, links, code, description, scope = values
    return ReadableSpan(
        name,
        context=_span_context(context) if context is not None else None,
        parent=_span_context(parent) if parent is not None else None,
        resource=resource,
        attributes=attributes,
        events=[Event(n, attributes=a, timestamp=t) for n, t, a in events],
        links=[Link(_span_context(c), a) for c, a in links],
        kind=SpanKind(kind),
        status=Status(StatusCode(code), description),
        start_time=start,
        end_time=end,
        instrumentation_scope=InstrumentationScope(*scope) if scope is not None else None,
    )


def _write(pipe: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(_LENGTH.pack(len(data)) + data)
    pipe.flush()


def _read(pipe: IO[bytes]) -> Any:
    """The next value on the pipe, or None once it is closed."""
    head = pipe.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    return pickle.loads(pipe.read(_LENGTH.unpack(head)[0]))  # our own parent's, through a pipe


class ProcessExporter(SpanExporter):
    """The batch span processor's exporter: each batch goes, flattened, to the child that encodes and sends it."""

    def __init__(self, kind: str, resource: Resource) -> None:
        self._child = subprocess.Popen([sys.executable, "-m", __name__, kind], stdin=subprocess.PIPE)
        assert self._child.stdin is not None
        self._pipe: IO[bytes] = self._child.stdin
        _write(self._pipe, (dict(resource.attributes), resource.schema_url))
        self._broken = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._broken:
            return SpanExportResult.FAILURE
        try:
            _write(self._pipe, [flat(span) for span in spans])
        except OSError:
            self._broken = True
            log.warning(
                "tracing: the span export process is gone (exit code %s); spans are dropped", self._child.poll()
            )
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Close the pipe and wait for the child to send what it holds."""
        try:
            self._pipe.close()
        except OSError:
            pass
        try:
            self._child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._child.kill()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every batch is on the pipe already; the child sends each as it reads it


def main(kind: str) -> None:
    """The child: read batches from stdin until it closes, export each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the parent, which closes the pipe
    pipe = sys.stdin.buffer
    attributes, schema_url = _read(pipe)
    resource = Resource(attributes, schema_url)
    exporter = exporter_of(kind)
    while (batch := _read(pipe)) is not None:
        exporter.export([rebuilt(values, resource) for values in batch])
    exporter.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
