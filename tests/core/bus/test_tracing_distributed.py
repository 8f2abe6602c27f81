"""A distributed submission's spans across two processes: the API (this test's process, the SDK's in-memory
exporter) writes the outbox row with its request's trace; a `gerbang worker` process (tests/core/bus/
traced_worker.py, its spans written to a file) relays it with a PRODUCER span whose context travels in the
RabbitMQ message's headers, then consumes and submits in the same trace. Real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.core.bus.conftest import needs_bus
from tests.core.bus.helpers import SUPPLY, submit, wait_status, wait_until
from tests.core.bus.processes import ROOT, environment
from tests.core.ops.test_otel import COUNTER_SPAN, TRACE_ID, TRACEPARENT

pytestmark = needs_bus


def traced_worker(settings: Any, spans_file: Path, processes: Any) -> subprocess.Popen[bytes]:
    """A worker process (relay and consumers) tracing into `spans_file`; stopped with the test's processes."""
    with open(processes.logs / "traced-worker.log", "wb") as log:
        process = subprocess.Popen([sys.executable, str(ROOT / "tests/core/bus/traced_worker.py"), str(spans_file)],
                                   cwd=ROOT, env=environment(settings), stdout=subprocess.DEVNULL, stderr=log)
    processes.started.append(process)
    return process


def as_json(exporter: InMemorySpanExporter) -> list[dict[str, Any]]:
    return [json.loads(s.to_json()) for s in exporter.get_finished_spans()]


def from_file(path: Path) -> list[dict[str, Any]]:
    """The worker's spans so far: its complete lines (the last may be being written)."""
    return [json.loads(line) for line in path.read_text().split("\n")[:-1]] if path.exists() else []


def called(found: list[dict[str, Any]], name: str) -> dict[str, Any]:
    matching = [s for s in found if s["name"] == name]
    assert len(matching) == 1, f"{name}: {[s['name'] for s in found]}"
    return matching[0]


def of_kind(found: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    matching = [s for s in found if s["kind"] == f"SpanKind.{kind}"]
    assert len(matching) == 1, f"{kind}: {[(s['name'], s['kind']) for s in found]}"
    return matching[0]


def ids(span: dict[str, Any]) -> tuple[str, str, str | None]:
    """(trace id, span id, parent id) as 32/16 lower-case hex digits."""
    parent = span.get("parent_id")
    return span["context"]["trace_id"][2:], span["context"]["span_id"][2:], parent[2:] if parent else None


def test_distributed_submission_joins_the_counters_trace_across_processes(  # type: ignore[no-untyped-def]
        bus_api, bus_settings, counter, processes, spans, tmp_path) -> None:
    """counter's traceparent → POST (API process) → publish → consume → submit → agency call (worker process)."""
    spans_file = tmp_path / "worker-spans.jsonl"
    worker = traced_worker(bus_settings(), spans_file, processes)
    app_id = submit(bus_api, {**counter, "traceparent": TRACEPARENT}, SUPPLY.repeatable("oss"))["id"]
    wait_status(bus_api, counter, app_id, {"submitted"}, timeout_s=60)
    wait_until(lambda: any(s["name"] == "oss submit" for s in from_file(spans_file)), 15,
               what="the worker process's spans")
    assert worker.poll() is None, (processes.logs / "traced-worker.log").read_text()

    api_side, worker_side = as_json(spans), from_file(spans_file)
    post = called(api_side, "POST /v1/applications")
    assert ids(post)[2] == COUNTER_SPAN
    assert not [s for s in api_side if s["kind"] in ("SpanKind.PRODUCER", "SpanKind.CONSUMER")]  # all in the worker
    publish = of_kind(worker_side, "PRODUCER")
    assert ids(publish)[2] == ids(post)[1]  # across processes: through the outbox row
    assert publish["attributes"]["gerbang.application.id"] == app_id
    assert publish["attributes"]["messaging.system"] == "rabbitmq"
    consume = of_kind(worker_side, "CONSUMER")
    assert ids(consume)[2] == ids(publish)[1]  # through the RabbitMQ message's headers
    assert consume["attributes"]["messaging.destination.name"].endswith("oss")
    submitted = called(worker_side, "submit oss")
    assert ids(submitted)[2] == ids(consume)[1]
    call = called(worker_side, "oss submit")
    assert ids(call)[2] == ids(submitted)[1] and call["attributes"]["gerbang.outcome"] == "ok"
    assert call["kind"] == "SpanKind.CLIENT"
    assert {ids(s)[0] for s in (post, publish, consume, submitted, call)} == {TRACE_ID}
    assert post["resource"]["attributes"]["service.name"] == "gerbang-test"
    assert call["resource"]["attributes"]["service.name"] == "gerbang-worker"


def test_a_retried_submission_stays_in_its_trace_through_rabbitmq(  # type: ignore[no-untyped-def]
        bus_api, bus_settings, counter, processes, spans, set_fault, tmp_path) -> None:
    """The agency is down: the attempt fails, the sweep writes a new outbox message carrying the consuming span's
    context (kept with the application), so the next publish and consume continue the attempt that failed."""
    spans_file = tmp_path / "worker-spans.jsonl"
    traced_worker(bus_settings(), spans_file, processes)
    set_fault("oss", "down")
    app_id = submit(bus_api, {**counter, "traceparent": TRACEPARENT}, SUPPLY.repeatable("oss"))["id"]
    view = lambda: bus_api.get(f"/v1/applications/{app_id}", headers=counter).json()  # noqa: E731
    wait_until(lambda: view()["attempts"] >= 2, 60,
               what=lambda: f"a rescheduled attempt: {view()} {processes.logs_tail()}")
    set_fault("oss", "ok")
    wait_status(bus_api, counter, app_id, {"submitted"}, timeout_s=60)
    wait_until(lambda: [s for s in from_file(spans_file)
                        if s["name"] == "oss submit" and s["attributes"]["gerbang.outcome"] == "ok"], 15,
               what="the last attempt's spans")
    post = called(as_json(spans), "POST /v1/applications")
    worker_side = from_file(spans_file)

    def by_start(kind: str) -> list[dict[str, Any]]:
        return sorted((s for s in worker_side if s["kind"] == f"SpanKind.{kind}"), key=lambda s: s["start_time"])

    publishes, consumes = by_start("PRODUCER"), by_start("CONSUMER")
    assert len(consumes) >= 2 and len(publishes) == len(consumes), [(s["name"], s["kind"]) for s in worker_side]
    parent = ids(post)[1]
    for publish, consume in zip(publishes, consumes, strict=True):
        assert ids(publish)[2] == parent  # the first: the request's; then the attempt that failed
        assert ids(consume)[2] == ids(publish)[1]
        parent = ids(consume)[1]
    assert {ids(s)[0] for s in [*publishes, *consumes]} == {TRACE_ID}
