"""Distributed mode: callback events through the RabbitMQ events exchange, for real (PostgreSQL, RabbitMQ, a
loopback receiver, `gerbang worker` threads and processes).

The API does not deliver when distributed; a worker's relay publishes each event to `<prefix>.events` with
confirms, the fan-out consumer of `<prefix>.callbacks` hands it to the subscriptions, the worker's deliverer
sends the batches. A queue of the test's own bound to the exchange sees the same events (the path other
consumers use). A worker killed mid-stream or the broker restarted: every event delivered, in order, none in
two batches.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from typing import Any

import pika
from sqlalchemy import text

from core.callbacks import service
from core.callbacks.events import emit
from core.callbacks.secrets import callback_key
from core.db import make_engine, session_factory
from core.security.clients import create_client
from core.security.secrets import load_secrets
from core.settings import Settings
from identity.clock import utcnow
from tests.conftest import BUS_SECRETS
from tests.core.bus.conftest import AMQP_URL, needs_bus
from tests.core.bus.helpers import SUPPLY, submit, wait_until
from tests.core.bus.processes import consumers
from tests.core.bus.test_distributed import broker_up, rabbitmqctl
from tests.core.callbacks.helpers import receiver
from core.api.state import app_state

pytestmark = needs_bus
LOOPBACK = {"callback_allowed_hosts": ["127.0.0.1"], "callback_poll_s": 0.05, "callback_retry_base_s": 0.05,
            "callback_retry_max_s": 0.3, "callback_lease_s": 4.0, "callback_read_timeout_s": 2.0,
            "callback_connect_timeout_s": 1.0}


def tap(topology: Any, binding: str) -> tuple[Any, str]:
    """A queue of the test's own bound to the events exchange (as an agency's or an analytics system would)."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL or ""))
    channel = connection.channel()
    name = f"{topology.prefix}.tap"
    channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(name, topology.events_exchange, routing_key=binding)
    connection.close()
    return name, binding


def drain(name: str) -> list[tuple[str, dict[str, Any]]]:
    """Every message on a queue now: (routing key, body), acknowledged; the queue is deleted."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL or ""))
    channel = connection.channel()
    got = []
    while True:
        method, _, body = channel.basic_get(name, auto_ack=True)
        if method is None:
            break
        got.append((method.routing_key, json.loads(body)))
    channel.queue_delete(name)
    connection.close()
    return got


def batches(state: Any) -> list[dict[str, Any]]:
    """The distinct batches the receiver got, in order of first arrival (a batch resent keeps its id)."""
    with state.lock:
        bodies = [json.loads(body) for body, _ in state.seen]
    first: dict[str, dict[str, Any]] = {}
    for body in bodies:
        first.setdefault(body["batch_id"], body)
    return list(first.values())


def delivered_events(state: Any) -> list[dict[str, Any]]:
    return [event for batch in batches(state) for event in batch["events"]]


def subscribe(pg_url: str, url: str, events: list[str], batch_max: int = 20, window: float = 0.1) -> str:
    engine = make_engine(pg_url)
    try:
        with session_factory(engine)() as session:
            sub, _ = service.create(session, agency="oss", url=url, events=events, batch_max=batch_max,
                                    batch_window_s=window, actor="test",
                                    key=callback_key(load_secrets(Settings(**BUS_SECRETS)).nik_hash_key))
            return sub.id
    finally:
        engine.dispose()


def test_events_reach_the_receiver_through_the_exchange(make_bus_api, start_worker, counter, pg_url,  # type: ignore
                                                        topology) -> None:
    with receiver() as (state, server):
        api = make_bus_api(**LOOPBACK)
        assert app_state(api.app).callbacks is None     # distributed: the API does not deliver
        worker = start_worker(**LOOPBACK)
        wait_until(worker.worker.ready.is_set, 30, 0.05, "worker ready")
        engine = make_engine(pg_url)
        with session_factory(engine)() as session:
            _, admin_key = create_client(session, "ops", ["admin"], [])
        engine.dispose()
        created = api.post("/v1/subscriptions", headers={"Authorization": f"Bearer {admin_key}"},
                           json={"agency": "oss", "url": f"{server.url}/hook", "batch_max": 50,
                                 "batch_window_s": 0.2,
                                 "events": ["application.accepted", "application.submitted"]})
        assert created.status_code in (200, 201), created.text
        name, _ = tap(topology, "oss.#")
        ids = [submit(api, counter, SUPPLY.repeatable("oss"))["id"] for _ in range(5)]
        wait_until(lambda: len(delivered_events(state)) >= 10, 30, 0.1, "10 events delivered")
        events = delivered_events(state)
        assert len(events) == 10 and len({e["id"] for e in events}) == 10
        for app_id in ids:
            mine = [e["type"] for e in events if e["data"]["application_id"] == app_id]
            assert mine == ["application.accepted", "application.submitted"], mine
        # the exchange path: the tap saw the same events, routed by agency and type, in the same order
        tapped = drain(name)
        keys = [key for key, body in tapped if body["application_id"] in ids]
        assert sorted(keys) == sorted(["oss.application.accepted", "oss.application.submitted"] * 5)
        assert [body["id"] for _, body in tapped if body["application_id"] in ids] == [e["id"] for e in events]
        assert [body["seq"] for _, body in tapped] == sorted(body["seq"] for _, body in tapped)
        assert worker.worker.fan_out is not None and worker.worker.fan_out.fanned >= 10
        assert worker.worker.relay is not None and worker.worker.relay.events_published >= 10
        # an event published again (a relay that crashed before marking it) and a malformed message
        fan_out = worker.worker.fan_out
        fanned, posts = fan_out.fanned, len(state.seen)
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL or ""))
        channel = connection.channel()
        channel.confirm_delivery()   # each publish returns once the broker has it on the callbacks queue
        for key, body in tapped[:3]:
            channel.basic_publish(topology.events_exchange, key, json.dumps(body).encode(), mandatory=True)
        channel.basic_publish(topology.events_exchange, "oss.application.submitted", b"\x00 not an event",
                              mandatory=True)
        connection.close()
        wait_until(lambda: fan_out.fanned >= fanned + 3 and fan_out.dead == 1, 30, 0.05,
                   lambda: f"the repeats consumed: fanned {fan_out.fanned} (was {fanned}), dead {fan_out.dead}, "
                           f"consumer reconnects {fan_out.consumer.reconnects}")
        time.sleep(0.5)   # a deliverer that had new items would have sent them by now
        assert len(state.seen) == posts


def emitter(pg_url: str, count: int, per_tx: int = 10, pause_s: float = 0.02, start: int = 0) -> threading.Thread:
    """A thread writing OSS events data.n = start … count-1, `per_tx` per transaction."""

    def run() -> None:
        engine = make_engine(pg_url)
        try:
            with session_factory(engine)() as session:
                for first in range(start, count, per_tx):
                    for n in range(first, min(first + per_tx, count)):
                        emit(session, "application.submitted", agency="oss", application_id=f"app-{n}",
                             at=utcnow(), data={"n": n})
                    session.commit()
                    time.sleep(pause_s)
        finally:
            engine.dispose()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def assert_once_in_order(state: Any, count: int) -> None:
    """Every event delivered, in one batch only, in order (of the distinct batches, by first arrival)."""
    ns = [event["data"]["n"] for event in delivered_events(state)]
    assert ns == list(range(count)), [n for i, n in enumerate(ns) if n != i][:10]


def test_worker_killed_mid_stream_no_event_lost_or_in_two_batches(bus_settings, processes, pg_url,  # type: ignore
                                                                    topology) -> None:
    """A `gerbang worker` SIGKILLed while it fans out and delivers; the standby worker's fan-out becomes the
    single active consumer, its deliverer takes the subscription over once the dead one's lease ran out."""
    count = 400
    settings = bus_settings(**LOOPBACK)
    with receiver() as (state, server):
        subscribe(pg_url, f"{server.url}/hook", ["application.submitted"])
        first = processes.worker(settings)
        wait_until(lambda: consumers(AMQP_URL or "", topology.callbacks_queue) >= 1, 60, 0.2, "first fan-out")
        writer = emitter(pg_url, count, pause_s=0.05)
        wait_until(lambda: len(delivered_events(state)) >= 100, 60, 0.05, "the first deliveries")
        first.send_signal(signal.SIGKILL)
        assert len(delivered_events(state)) < count, "the kill did not land mid-stream"
        assert first.wait(10) == -signal.SIGKILL
        processes.worker(settings)
        writer.join(60)
        wait_until(lambda: len(delivered_events(state)) >= count, 60, 0.1, f"{count} events delivered")
        time.sleep(0.5)   # nothing more arrives
        assert_once_in_order(state, count)
    engine = make_engine(pg_url)
    with engine.connect() as connection:
        items = connection.execute(text("SELECT count(*), count(DISTINCT event_id), count(batch_id) "
                                        "FROM callback_item")).one()
    engine.dispose()
    assert tuple(items) == (count, count, count)


def test_broker_restarted_mid_stream_no_event_lost_or_in_two_batches(bus_settings, start_worker,  # type: ignore
                                                                       pg_url) -> None:
    """Events keep coming while RabbitMQ is stopped: they wait in the database (unhanded) and go through the
    exchange once it is back; nothing that was in flight at the stop is lost or delivered in a second batch."""
    count = 300
    with receiver() as (state, server):
        subscribe(pg_url, f"{server.url}/hook", ["application.submitted"])
        worker = start_worker(**LOOPBACK)
        wait_until(worker.worker.ready.is_set, 30, 0.05, "worker ready")
        writer = emitter(pg_url, 150, pause_s=0.02)
        try:
            wait_until(lambda: len(delivered_events(state)) >= 60, 60, 0.05, "the first deliveries")
            rabbitmqctl("stop_app")
            writer.join(60)
            writer = emitter(pg_url, count, pause_s=0.02, start=150)   # written while the broker is down
            writer.join(60)
            assert len(delivered_events(state)) < count
            rabbitmqctl("start_app")
        finally:
            if not broker_up():
                rabbitmqctl("start_app")
            wait_until(broker_up, 60, 0.5, "RabbitMQ back")
        wait_until(lambda: len(delivered_events(state)) >= count, 90, 0.1, f"{count} events delivered")
        time.sleep(0.5)
        assert_once_in_order(state, count)
        assert worker.worker.fan_out is not None and worker.worker.fan_out.consumer.reconnects >= 1
