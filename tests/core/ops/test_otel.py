"""OpenTelemetry tracing: the span tree of a lookup and of a submission (embedded, and distributed across the API
and a worker through the outbox and RabbitMQ headers), callbacks linked to their events' traces, nothing personal
in any span, configuration from the OTEL_* environment (a real OTLP/HTTP export to a receiver on loopback), and
nothing at all when it is off. Spans are read with the SDK's in-memory exporter."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from connectors import tracing as wire
from core.ops import export_process, tracing
from tests.core.bus.helpers import FAST, SUPPLY, submit, wait_status, wait_until
from tests.core.callbacks.helpers import receiver
from tests.core.conftest import POPULATION

TRACE_ID = "4bf92f3577b34da6a3ce929b0e0e4736"
COUNTER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{COUNTER_SPAN}-01"
ALIVE = [p for p in POPULATION.people if p.life_status == "alive" and p.in_dukcapil]


def hexid(value: int, width: int) -> str:
    return f"{value:0{width}x}"


def named(finished: tuple[ReadableSpan, ...] | list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in finished if s.name == name]


def one(finished: Any, name: str) -> ReadableSpan:
    found = named(finished, name)
    assert len(found) == 1, f"{name}: {[s.name for s in finished]}"
    return found[0]


def parent_of(span: ReadableSpan) -> str | None:
    return hexid(span.parent.span_id, 16) if span.parent is not None else None


def span_id(span: ReadableSpan) -> str:
    return hexid(span.context.span_id, 16)


def span_id_of(link: Any) -> str:
    return hexid(link.context.span_id, 16)


def traceparent_of(trace_id: str) -> str:
    return f"00-{trace_id}-{COUNTER_SPAN}-01"


def in_tree(finished: Any, root: ReadableSpan) -> list[ReadableSpan]:
    """Every span under `root` (its descendants), by parent ids."""
    ids = {span_id(root)}
    out: list[ReadableSpan] = []
    grew = True
    while grew:
        grew = False
        for s in finished:
            if s not in out and parent_of(s) in ids:
                out.append(s)
                ids.add(span_id(s))
                grew = True
    return out


def everything_said(finished: Any) -> str:
    """Every name, attribute, event, link attribute and resource attribute the spans would export, as text."""
    parts: list[str] = []
    for s in finished:
        parts.append(s.name)
        parts.extend(f"{k}={v}" for k, v in (s.attributes or {}).items())
        parts.extend(f"{k}={v}" for k, v in s.resource.attributes.items())
        for event in s.events:
            parts.append(event.name)
            parts.extend(f"{k}={v}" for k, v in (event.attributes or {}).items())
        for link in s.links:
            parts.extend(f"{k}={v}" for k, v in (link.attributes or {}).items())
        if s.status.description:
            parts.append(s.status.description)
    return "\n".join(parts)


@pytest.fixture
def reader(add_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    key = add_client("counter", ["citizen:read:*", "application:submit:*", "application:read"],
                     ["identity_check", "business_licensing"])
    return {"Authorization": f"Bearer {key}"}


def test_lookup_span_tree(make_api, reader, spans) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    person = ALIVE[0]
    response = api.get(f"/v1/citizens/{person.nik}", params={"purpose": "business_licensing"},
                       headers={**reader, "traceparent": TRACEPARENT})
    assert response.status_code == 200, response.text
    finished = spans.get_finished_spans()
    server = one(finished, "GET /v1/citizens/{nik}")
    assert server.kind is SpanKind.SERVER and parent_of(server) == COUNTER_SPAN  # the counter's trace goes on
    assert hexid(server.context.trace_id, 32) == TRACE_ID
    assert server.attributes["http.route"] == "/v1/citizens/{nik}"
    assert server.attributes["http.response.status_code"] == 200
    assert server.resource.attributes["service.name"] == "gerbang-test"
    tree = in_tree(finished, server)
    assert server.attributes["gerbang.memo.result"] == "miss"  # the memo and the audit append: on the request
    assert server.attributes["gerbang.audit.action"] == "citizen.read"
    assert one(tree, "record cache").attributes["gerbang.cache.result"] == "miss"
    calls = {s.attributes["gerbang.agency"]: s for s in tree if s.kind is SpanKind.CLIENT}
    asked = {facet["provenance"]["agency"] for facet in response.json()["facets"].values()}
    assert set(calls) == asked and len(asked) == 4  # Dukcapil, then the three others in parallel
    assert len({parent_of(s) for s in calls.values()}) == 1  # all children of the request's span
    dukcapil = calls["dukcapil"]
    assert dukcapil.name == "dukcapil lookup"
    assert dukcapil.attributes["gerbang.operation"] == "lookup"
    assert dukcapil.attributes["gerbang.outcome"] == "ok"
    assert dukcapil.attributes["gerbang.breaker.state"] == "closed"
    assert dukcapil.attributes["rpc.system"] == "rest" and dukcapil.attributes["server.address"] == "127.0.0.1"
    assert any(s.attributes.get("rpc.system") == "soap" for s in calls.values())  # BPJS Ketenagakerjaan: SOAP
    assert all(parent_of(s) is not None for s in tree)

    spans.clear()
    again = api.get(f"/v1/citizens/{person.nik}", params={"purpose": "business_licensing"}, headers=reader)
    assert again.status_code == 200
    finished = spans.get_finished_spans()
    server = one(finished, "GET /v1/citizens/{nik}")
    assert parent_of(server) is None  # no traceparent given: a trace of its own
    tree = in_tree(finished, server)
    assert one(tree, "record cache").attributes["gerbang.cache.result"] == "hit"  # the rows, fresh
    assert not [s for s in tree if s.kind is SpanKind.CLIENT]  # no agency asked again
    spans.clear()
    assert api.get(f"/v1/citizens/{person.nik}", params={"purpose": "business_licensing"},
                   headers=reader).status_code == 200
    finished = spans.get_finished_spans()
    server = one(finished, "GET /v1/citizens/{nik}")
    assert server.attributes["gerbang.memo.result"] == "hit"  # now assembled in memory: the request's only span
    assert server.attributes["gerbang.audit.action"] == "citizen.read"
    assert [s.name for s in finished] == ["GET /v1/citizens/{nik}"]


def test_a_counter_that_does_not_sample_gets_no_spans(make_api, reader, spans) -> None:  # type: ignore
    """The default sampler follows the counter's sampled flag: `-00` records nothing, the request's span (made
    by hand, core/ops/middleware.py) included, and the lookup answers as ever."""
    api = make_api()
    response = api.get(f"/v1/citizens/{ALIVE[1].nik}", params={"purpose": "business_licensing"},
                       headers={**reader, "traceparent": TRACEPARENT[:-2] + "00"})
    assert response.status_code == 200
    assert spans.get_finished_spans() == ()


def test_full_journey_spans_hold_nothing_personal_and_callbacks_link_to_events(  # type: ignore[no-untyped-def]
        make_api, reader, add_client, spans) -> None:
    """Embedded mode: lookup, submission (outbox → in-process worker → agency), callback batch."""
    api = make_api(**FAST, callback_allowed_hosts=["127.0.0.1"], callback_poll_s=0.05, callback_retry_base_s=0.05)
    operator = {"Authorization": f"Bearer {add_client('operator', ['admin'])}"}
    request = SUPPLY.repeatable("oss")
    person = next(p for p in POPULATION.people if p.nik == request["nik"])
    with receiver() as (state, server):
        created = api.post("/v1/subscriptions", headers=operator, json={
            "agency": "oss", "url": f"{server.url}/hook", "events": ["application.submitted"],
            "batch_max": 1, "batch_window_s": 0})
        assert created.status_code == 201, created.text
        looked = api.get(f"/v1/citizens/{person.nik}", params={"purpose": "business_licensing"},
                         headers={**reader, "traceparent": TRACEPARENT})
        assert looked.status_code == 200
        app_id = submit(api, {**reader, "traceparent": TRACEPARENT}, request)["id"]
        wait_status(api, reader, app_id, {"submitted"})
        wait_until(lambda: state.seen, 10, what="the callback batch")
        wait_until(lambda: named(spans.get_finished_spans(), "callback deliver"), 10, what="the delivery span")
        body, headers = state.seen[0]
    finished = spans.get_finished_spans()

    post = one(finished, "POST /v1/applications")
    assert hexid(post.context.trace_id, 32) == TRACE_ID
    consume = one(finished, "embedded process")
    assert consume.kind is SpanKind.CONSUMER and parent_of(consume) == span_id(post)  # through the outbox row
    submitted = one(finished, "submit oss")
    assert parent_of(submitted) == span_id(consume) and submitted.attributes["gerbang.outcome"] == "submitted"
    call = one(finished, "oss submit")
    assert parent_of(call) == span_id(submitted) and call.kind is SpanKind.CLIENT
    deliver = one(finished, "callback deliver")
    assert deliver.attributes["gerbang.outcome"] == "delivered"
    assert deliver.attributes["gerbang.batch.id"] == headers["webhook-id"]
    assert [(hexid(link.context.trace_id, 32), span_id_of(link)) for link in deliver.links] == [
        (TRACE_ID, span_id(consume))]  # linked to the span its event was written in: the attempt's
    assert headers["traceparent"].split("-")[2] == span_id(deliver)

    said = everything_said(finished)
    record = looked.json()
    personal = {person.nik, person.name}
    personal |= {str(v) for facet in record["facets"].values() for v in (facet.get("data") or {}).values()
                 if isinstance(v, str) and len(v) >= 4}
    personal |= {str(v) for v in request["payload"].values() if isinstance(v, str) and len(v) >= 4}  # not codes
    assert personal, "nothing to look for"
    leaks = sorted(p for p in personal if p and p in said)
    assert not leaks, f"personal data in spans: {leaks}"
    assert json.loads(body)["events"]  # the journey really went through


def test_a_retried_submission_stays_in_its_trace(make_api, reader, set_fault, spans) -> None:  # type: ignore
    """Embedded: the agency is down, so the attempt fails and the sweep dispatches the application again; each
    new attempt's consuming span continues the one before it (its context kept with the application), all in
    the counter's trace."""
    api = make_api(**FAST)
    set_fault("oss", "down")
    app_id = submit(api, {**reader, "traceparent": TRACEPARENT}, SUPPLY.repeatable("oss"))["id"]
    wait_until(lambda: api.get(f"/v1/applications/{app_id}", headers=reader).json()["attempts"] >= 2, 20,
               what="a rescheduled attempt")
    set_fault("oss", "ok")
    wait_status(api, reader, app_id, {"submitted"})
    wait_until(lambda: named(spans.get_finished_spans(), "oss submit") and any(
        s.attributes.get("gerbang.outcome") == "ok" for s in named(spans.get_finished_spans(), "oss submit")), 10,
        what="the last attempt's spans")
    finished = spans.get_finished_spans()
    post = one(finished, "POST /v1/applications")
    consumes = sorted(named(finished, "embedded process"), key=lambda s: s.start_time or 0)
    assert len(consumes) >= 2
    assert parent_of(consumes[0]) == span_id(post)
    for before, after in zip(consumes, consumes[1:], strict=False):
        assert parent_of(after) == span_id(before)  # the retry continues the attempt that failed
    assert {hexid(s.context.trace_id, 32) for s in [post, *consumes, *named(finished, "oss submit")]} == {TRACE_ID}


def test_a_callback_batch_links_to_the_span_of_each_of_its_events(  # type: ignore[no-untyped-def]
        make_api, reader, add_client, spans) -> None:
    """Two applications in two traces, their accepted and submitted events in batches: every batch links to the
    very span each of its events was written in — the request for `accepted`, the attempt for `submitted`."""
    api = make_api(**FAST, callback_allowed_hosts=["127.0.0.1"], callback_poll_s=0.05, callback_retry_base_s=0.05)
    operator = {"Authorization": f"Bearer {add_client('operator', ['admin'])}"}
    traces = ["a" * 32, "b" * 32]
    with receiver() as (state, server):
        created = api.post("/v1/subscriptions", headers=operator, json={
            "agency": "oss", "url": f"{server.url}/hook", "events": ["application.accepted", "application.submitted"],
            "batch_max": 10, "batch_window_s": 1})
        assert created.status_code == 201, created.text
        ids = [submit(api, {**reader, "traceparent": traceparent_of(t)}, SUPPLY.repeatable("oss"))["id"]
               for t in traces]
        for app_id in ids:
            wait_status(api, reader, app_id, {"submitted"})
        wait_until(lambda: sum(len(json.loads(body)["events"]) for body, _ in state.seen) >= 4, 15,
                   what="four events delivered")
        wait_until(lambda: sum(s.attributes["gerbang.batch.events"]
                               for s in named(spans.get_finished_spans(), "callback deliver")) >= 4, 10,
                   what="the delivery spans")
    finished = spans.get_finished_spans()
    written_in = {}
    for post in named(finished, "POST /v1/applications"):
        written_in[("application.accepted", hexid(post.context.trace_id, 32))] = span_id(post)
    for consume in named(finished, "embedded process"):
        written_in[("application.submitted", hexid(consume.context.trace_id, 32))] = span_id(consume)
    linked = {(hexid(link.context.trace_id, 32), span_id_of(link))
              for deliver in named(finished, "callback deliver") for link in deliver.links}
    delivered = [(e["type"], e["data"]["application_id"]) for body, _ in state.seen for e in json.loads(body)["events"]]
    assert sorted({t for t, _ in delivered}) == ["application.accepted", "application.submitted"]
    assert linked == {(trace, span) for (_, trace), span in written_in.items()}
    assert {trace for trace, _ in linked} == set(traces)


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_configured_from_the_otel_environment_and_exported_over_otlp(monkeypatch) -> None:  # type: ignore
    """OTEL_EXPORTER_OTLP_ENDPOINT turns tracing on: spans go over OTLP/HTTP to a collector (here on loopback)."""
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Collector.received.clear()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "gerbang-otlp-test")
        assert tracing.setup("gerbang-api") is True and wire.enabled()
        with wire.span("oss submit", {"gerbang.agency": "oss"}, kind=SpanKind.CLIENT):
            pass
    finally:
        tracing.shutdown()  # flushes the batch processor
        server.shutdown()
    assert not wire.enabled()
    assert [path for path, _ in _Collector.received] == ["/v1/traces"]
    request = ExportTraceServiceRequest.FromString(_Collector.received[0][1])
    (resource_spans,) = request.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "gerbang-otlp-test"
    exported = [s for scope in resource_spans.scope_spans for s in scope.spans]
    assert [s.name for s in exported] == ["oss submit"]


def test_the_export_process_receives_every_field_the_otlp_encoder_reads(spans) -> None:  # type: ignore
    """What the helper process rebuilds from the pipe encodes to the very bytes the span itself would."""
    parent = wire.context_of(TRACEPARENT)
    with wire.span("callback deliver", {"gerbang.batch.events": 2, "gerbang.ok": True}, kind=SpanKind.CLIENT,
                   context=parent, links=[wire.link_to(f"00-{'ab' * 16}-{'cd' * 8}-01")]) as span:
        span.add_event("retry", {"gerbang.attempt": 3})
        span.set_status(wire.Status(wire.StatusCode.ERROR, "retry"))
    with wire.span("root"):
        pass
    finished = list(spans.get_finished_spans())
    resource = finished[0].resource
    piped = [export_process.rebuilt(export_process.flat(s), resource) for s in finished]
    assert encode_spans(piped).SerializeToString() == encode_spans(finished).SerializeToString()


@pytest.mark.parametrize(("env", "wanted"), [
    ({}, None),
    ({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}, None),  # nowhere to send: still off
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "otlp"),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, "otlp"),
    ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
    ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, None),
    ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, None),
])
def test_which_exporter_the_environment_asks_for(env: dict[str, str], wanted: str | None) -> None:
    assert tracing.wanted_exporter(env) == wanted


def test_off_by_default_traceparent_as_before(make_api, reader) -> None:  # type: ignore[no-untyped-def]
    """Nothing set: no tracer, no span; the counter's traceparent still reaches the agency with a new parent id."""
    assert tracing.setup("gerbang-api", env={}) is False
    assert not wire.enabled()
    with wire.span("anything") as span:
        assert not span.is_recording()
    token = wire.current.set(wire.parse(TRACEPARENT))
    try:
        sent = wire.outbound()
    finally:
        wire.current.reset(token)
    assert sent is not None and sent.startswith(f"00-{TRACE_ID}-") and COUNTER_SPAN not in sent
    assert sent.endswith("-01")
