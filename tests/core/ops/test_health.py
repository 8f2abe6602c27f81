"""/healthz, /readyz (database, broker, signing key, breakers) and the request-id / trace middleware in the app."""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Iterator

import pika
import pytest

from connectors.breaker import BreakerState
from core.bus.amqp import Topology
from core.settings import Settings
from core.api.state import app_state

AMQP_URL = os.environ.get("GERBANG_TEST_AMQP_URL")


@pytest.fixture
def rabbitmq_settings(tmp_path) -> Iterator[Settings]:  # type: ignore[no-untyped-def]
    """Settings pointing at the test broker under a prefix of this test's own (deleted afterwards)."""
    if not AMQP_URL:
        pytest.skip("GERBANG_TEST_AMQP_URL not set")
    prefix = f"go{uuid.uuid4().hex[:10]}"
    yield Settings(amqp_url=AMQP_URL, bus_prefix=prefix, data_dir=tmp_path, agency_env={})
    topology = Topology(prefix)
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        channel.queue_delete(topology.queue("oss"))
        channel.queue_delete(topology.dead_queue)
        channel.queue_delete(topology.callbacks_queue)
        channel.exchange_delete(topology.submit_exchange)
        channel.exchange_delete(topology.dead_exchange)
        channel.exchange_delete(topology.events_exchange)
    finally:
        connection.close()


def test_healthz_and_ready(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    assert api.get("/healthz").json() == {"status": "ok"}
    response = api.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == {"ok": True} and body["checks"]["signing_key"] == {"ok": True}
    assert "broker" not in body["checks"]  # embedded mode: no broker to check
    assert body["checks"]["agencies"]["dukcapil"] == {"state": "closed", "consecutive_failures": 0}


def test_open_breaker_is_reported_but_keeps_the_process_ready(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(breaker_threshold=1)
    breaker = app_state(api.app).agencies.breakers["oss"]
    breaker.failure()
    assert breaker.state is BreakerState.open
    response = api.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["agencies"]["oss"]["state"] == "open"


def test_unloadable_signing_key_makes_it_unready(make_api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    app_state(api.app).settings = app_state(api.app).settings.model_copy(
        update={"signing_key": None, "signing_key_path": tmp_path / "missing.key"})
    response = api.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "not_ready" and body["status"] == 503 and body["state"] == "not_ready"
    assert body["checks"]["signing_key"]["ok"] is False and body["checks"]["database"]["ok"] is True
    assert "signing_key" in body["detail"] and "missing.key" not in response.text


def test_unreachable_broker_makes_it_unready(make_api) -> None:  # type: ignore[no-untyped-def]
    from core.ops.probe import BrokerProbe

    api = make_api()
    state = app_state(api.app)
    state.broker_probe = BrokerProbe(state.settings.model_copy(update={"amqp_url": "amqp://guest:guest@127.0.0.1:9/"}),
                                     ["oss"], ttl_s=60)
    response = api.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
    assert "broker" in response.json()["detail"]


@pytest.mark.rabbitmq
def test_broker_probe_is_cached_and_reads_queue_depths(rabbitmq_settings) -> None:  # type: ignore[no-untyped-def]
    from core.bus import amqp
    from core.ops.probe import BrokerProbe

    amqp.setup(rabbitmq_settings, ["oss"])
    now = [0.0]
    probe = BrokerProbe(rabbitmq_settings, ["oss", "never_declared"], ttl_s=2.0, clock=lambda: now[0])
    first = probe.check()
    assert first.ok and first.error is None
    topology = amqp.topology_of(rabbitmq_settings)
    assert first.depths[topology.queue("oss")] == 0 and topology.dead_queue in first.depths
    assert topology.callbacks_queue in first.depths  # callback lag in distributed mode
    assert topology.queue("never_declared") not in first.depths  # passive declare never creates a queue
    assert probe.check() is first  # cached
    from core.ops.metrics import StateCollector

    families = {f.name: f for f in StateCollector(None, {}, probe)._broker()}  # type: ignore[arg-type]
    assert families["gerbang_broker_up"].samples[0].value == 1
    assert {s.labels["queue"] for s in families["gerbang_queue_messages"].samples} == set(first.depths)
    now[0] = 2.5
    assert probe.check() is not first


def test_request_id_is_echoed_or_made(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    assert api.get("/healthz", headers={"X-Request-Id": "counter-42.a"}).headers["x-request-id"] == "counter-42.a"
    made = api.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert api.get("/healthz").headers["x-request-id"] != made
    hostile = api.get("/healthz", headers={"X-Request-Id": "x" * 200}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", hostile)
    # problems raised before routing (body limits) carry it too
    assert api.get("/v1/citizens/1", headers={"X-Request-Id": "r1"}).headers["x-request-id"] == "r1"


def test_request_and_trace_ids_reach_log_records(make_api, caplog) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    trace = "0af7651916cd43dd8448eb211c80319c"
    seen: list[logging.LogRecord] = []

    @api.app.get("/_test/log")
    async def log_something() -> dict[str, str]:
        logging.getLogger("gerbang.test").warning("hello from nik=3276014101990001")
        return {}

    handler = logging.Handler()
    handler.emit = seen.append  # type: ignore[method-assign]
    logging.getLogger("gerbang.test").addHandler(handler)
    try:
        api.get("/_test/log", headers={"X-Request-Id": "req-7", "traceparent": f"00-{trace}-b7ad6b7169203331-01"})
    finally:
        logging.getLogger("gerbang.test").removeHandler(handler)
    record = seen[-1]
    assert record.request_id == "req-7" and record.trace_id == trace  # type: ignore[attr-defined]
    assert "3276014101990001" not in record.getMessage()  # redaction still in force
