"""connectors/otel_request_span.py (a fork of the SDK's `Span` for the request's SERVER span) exports what the
SDK's ordinary path exports: the same request traced once with `RequestSpan` and once with the SDK's
`start_as_current_span(kind=SERVER)` — same sampler, ids from a fixed generator, same resource and instrumentation
scope — gives equal spans in the SDK's in-memory exporter, field by field (times aside). With a new trace and with
the counter's traceparent as remote parent, with an exception inside (status ERROR, its type name only), and
unsampled (nothing exported). If the SDK's `ReadableSpan` or its tracer changes, this is the test that says so."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, TraceState
from opentelemetry.util.types import Attributes

from connectors import tracing
from connectors.otel_request_span import RequestSpan

COUNTER = tracing.Trace("4bf92f3577b34da6a3ce929b0e0e4736", "00f067aa0ba902b7", "01")
UNSAMPLED_COUNTER = COUNTER._replace(flags="00")


class Boom(Exception):
    """Raised inside the request (its message must not reach the span)."""


class FixedIds(IdGenerator):
    """The same ids, in the same order, for both paths."""

    def __init__(self) -> None:
        self.next = 0x1000

    def generate_span_id(self) -> int:
        self.next += 1
        return self.next

    def generate_trace_id(self) -> int:
        self.next += 1
        return 0xABC << 64 | self.next


class StampingSampler(Sampler):
    """Samples a new trace, adding an attribute and a trace state (both must reach the span); follows a parent."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        return SamplingResult(
            Decision.RECORD_AND_SAMPLE, {"sampler.rule": "stamp", **dict(attributes or {})}, TraceState([("gb", "1")])
        )

    def get_description(self) -> str:
        return "StampingSampler"


def traced(run: Callable[[], None]) -> tuple[list[ReadableSpan], list[str | None]]:
    """Run one request with a fresh provider (the same sampler, resource, scope and id sequence every time)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        sampler=ParentBased(StampingSampler()),
        resource=Resource.create({"service.name": "gerbang-test"}),
        id_generator=FixedIds(),
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider.get_tracer("gerbang"))
    seen.clear()
    try:
        run()
    finally:
        tracing.use(None)
    return list(exporter.get_finished_spans()), list(seen)


seen: list[str | None] = []


def request_body(rename: Callable[[str], None], attribute: Callable[[str, Any], None], fail: bool) -> None:
    """What the middleware and a lookup do inside the request's span."""
    tracing.note("record.memo", "hit")
    seen.append(tracing.current_traceparent())  # what a child span or an agency call takes as its parent
    rename("GET /v1/citizens/{nik}")
    attribute("http.route", "/v1/citizens/{nik}")
    attribute("http.response.status_code", 200)
    if fail:
        raise Boom("3201010101010001")


def with_request_span(counter: tracing.Trace | None, fail: bool) -> Callable[[], None]:
    def run() -> None:
        request = RequestSpan("GET", counter)

        def rename(name: str) -> None:
            request.name = name

        with contextlib.suppress(Boom), request:
            request_body(rename, request.attributes.__setitem__, fail)

    return run


def with_sdk_span(counter: tracing.Trace | None, fail: bool) -> Callable[[], None]:
    def run() -> None:
        tracer = tracing.tracer()
        assert tracer is not None
        context = tracing.remote_context(counter)
        with (
            contextlib.suppress(Boom),
            tracer.start_as_current_span(
                "GET", context, SpanKind.SERVER, record_exception=False, set_status_on_exception=False
            ) as span,
        ):
            try:
                request_body(span.update_name, span.set_attribute, fail)
            except Boom as exc:  # the project's rule: the exception's type name only
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise

    return run


def fields(span: ReadableSpan) -> dict[str, Any]:
    """Every field of an exported span but its start and end times."""
    assert span.context is not None
    return {
        "name": span.name,
        "kind": span.kind,
        "trace_id": span.context.trace_id,
        "span_id": span.context.span_id,
        "trace_flags": span.context.trace_flags,
        "trace_state": span.context.trace_state,
        "is_remote": span.context.is_remote,
        "parent": span.parent,
        "attributes": dict(span.attributes or {}),
        "status_code": span.status.status_code,
        "status_description": span.status.description,
        "events": list(span.events),
        "links": list(span.links),
        "resource": span.resource,
        "instrumentation_scope": span.instrumentation_scope,
        "dropped": (span.dropped_attributes, span.dropped_events, span.dropped_links),
    }


@pytest.fixture(autouse=True)
def tracing_off_after() -> Iterator[None]:
    yield
    tracing.use(None)


@pytest.mark.parametrize("counter", [None, COUNTER], ids=["new trace", "counter's traceparent"])
@pytest.mark.parametrize("fail", [False, True], ids=["ok", "exception inside"])
def test_request_span_exports_what_the_sdk_span_exports(counter: tracing.Trace | None, fail: bool) -> None:
    forked, forked_parents = traced(with_request_span(counter, fail))
    ordinary, ordinary_parents = traced(with_sdk_span(counter, fail))

    assert len(forked) == len(ordinary) == 1
    assert fields(forked[0]) == fields(ordinary[0])
    assert forked_parents == ordinary_parents and forked_parents[0] is not None
    span = fields(forked[0])
    assert span["attributes"]["record.memo"] == "hit"
    assert span["status_code"] == (StatusCode.ERROR if fail else StatusCode.UNSET)
    assert span["status_description"] == ("Boom" if fail else None)
    if counter is None:
        assert span["parent"] is None and span["trace_state"] == TraceState([("gb", "1")])
        assert span["attributes"]["sampler.rule"] == "stamp"
    else:
        assert span["parent"].is_remote and f"{span['parent'].span_id:016x}" == counter.parent_id
        assert f"{span['trace_id']:032x}" == counter.trace_id


def test_unsampled_request_exports_nothing_either_way() -> None:
    forked, forked_parents = traced(with_request_span(UNSAMPLED_COUNTER, fail=False))
    ordinary, ordinary_parents = traced(with_sdk_span(UNSAMPLED_COUNTER, fail=False))
    assert forked == ordinary == []
    assert forked_parents == ordinary_parents and forked_parents[0] is not None
    assert forked_parents[0].endswith("-00")


def test_the_comparison_sees_one_changed_field() -> None:
    def one_attribute_more() -> None:
        with RequestSpan("GET", COUNTER) as request:
            request_body(lambda _name: None, request.attributes.__setitem__, fail=False)
            request.name = "GET /v1/citizens/{nik}"
            request.attributes["extra"] = 1

    changed, _ = traced(one_attribute_more)
    ordinary, _ = traced(with_sdk_span(COUNTER, fail=False))
    assert fields(changed[0]) != fields(ordinary[0])
    assert fields(changed[0]) | {"attributes": fields(ordinary[0])["attributes"]} == fields(ordinary[0])
