"""A distributed submission's spans: the API process writes the outbox row with its trace, a worker (its own thread
and event loop: no context shared with the API) relays it with a PRODUCER span whose context travels in the RabbitMQ
message's headers, then consumes and submits in the same trace. Read with the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from core.ops import tracing
from tests.core.bus.conftest import needs_bus
from tests.core.bus.helpers import SUPPLY, submit, wait_status, wait_until
from tests.core.ops.test_otel import COUNTER_SPAN, TRACE_ID, TRACEPARENT, hexid, named, one, parent_of, span_id

pytestmark = needs_bus


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter), "gerbang-test")
    yield exporter
    tracing.shutdown()


def test_distributed_submission_joins_the_counters_trace(bus_api, counter, start_worker, spans  # type: ignore
                                                          ) -> None:
    """The API writes the outbox row with its trace; a worker (its own thread and loop: no shared context) relays
    it with a PRODUCER span whose context travels in the message's headers, and consumes and submits in the same
    trace."""
    start_worker()
    app_id = submit(bus_api, {**counter, "traceparent": TRACEPARENT}, SUPPLY.repeatable("oss"))["id"]
    wait_status(bus_api, counter, app_id, {"submitted"}, timeout_s=30)
    wait_until(lambda: named(spans.get_finished_spans(), "oss submit"), 10, what="the worker's spans")
    finished = spans.get_finished_spans()
    post = one(finished, "POST /v1/applications")
    assert parent_of(post) == COUNTER_SPAN
    publish = next(s for s in finished if s.kind is SpanKind.PRODUCER)
    assert parent_of(publish) == span_id(post) and publish.attributes["gerbang.application.id"] == app_id
    assert publish.attributes["messaging.system"] == "rabbitmq"
    consume = next(s for s in finished if s.kind is SpanKind.CONSUMER)
    assert parent_of(consume) == span_id(publish)  # through the RabbitMQ message headers
    assert consume.attributes["messaging.destination.name"].endswith("oss")
    submitted = one(finished, "submit oss")
    assert parent_of(submitted) == span_id(consume)
    call = one(finished, "oss submit")
    assert parent_of(call) == span_id(submitted) and call.attributes["gerbang.outcome"] == "ok"
    journey = [post, publish, consume, submitted, call]
    assert {hexid(s.context.trace_id, 32) for s in journey} == {TRACE_ID}
