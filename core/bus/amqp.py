"""RabbitMQ: the topology, the connection parameters, and the backoff between reconnections.

Topology (`declare_topology`, run by `gerbang bus setup` and at every worker start; idempotent; `gerbang` is the
default prefix, GERBANG_BUS_PREFIX):
- exchange `gerbang.submit` (direct, durable); per agency a durable **quorum** queue `gerbang.submit.<agency>`
  bound with the agency's name, with `x-delivery-limit` (a message that keeps crashing its consumer is
  dead-lettered instead of looping) and `x-dead-letter-exchange: gerbang.dead`;
- exchange `gerbang.dead` (fanout) and quorum queue `gerbang.dead`: failed applications and poison messages;
- exchange `gerbang.events` (topic, durable): every callback event, routing key `<agency>.<event type>`; quorum
  queue `gerbang.callbacks` bound with `#`, single active consumer: the callback fan-out of the workers
  (core/callbacks/exchange.py). Other consumers may bind queues of their own to the exchange.

The publisher (core/bus/publisher.py) and the consumer (core/bus/consumer.py) each keep a connection of their
own on their own thread and reconnect with `Backoff`, since pika does not reconnect by itself.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pika

from core.settings import Settings


@dataclass(frozen=True)
class Topology:
    """Names of the exchanges and queues; the prefix (GERBANG_BUS_PREFIX) lets installations share a vhost."""

    prefix: str = "gerbang"

    @property
    def submit_exchange(self) -> str:
        return f"{self.prefix}.submit"

    @property
    def dead_exchange(self) -> str:
        return f"{self.prefix}.dead"

    @property
    def dead_queue(self) -> str:
        return f"{self.prefix}.dead"

    def queue(self, agency: str) -> str:
        return f"{self.submit_exchange}.{agency}"

    @property
    def events_exchange(self) -> str:
        return f"{self.prefix}.events"

    @property
    def callbacks_queue(self) -> str:
        return f"{self.prefix}.callbacks"


def parameters(settings: Settings, *, name: str = "gerbang") -> pika.URLParameters:
    """Connection parameters from the AMQP URL, with heartbeats and a blocked-connection timeout from settings
    (the URL's own query options win where given)."""
    assert settings.amqp_url, "GERBANG_AMQP_URL is not set"
    params = pika.URLParameters(settings.amqp_url)
    url = settings.amqp_url
    if "heartbeat=" not in url:
        params.heartbeat = settings.amqp_heartbeat_s
    if "blocked_connection_timeout=" not in url:
        params.blocked_connection_timeout = settings.amqp_blocked_timeout_s
    if "connection_attempts=" not in url:
        params.connection_attempts = 1
    params.client_properties = {"connection_name": name}
    return params


def queue_arguments(topology: Topology, delivery_limit: int) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": topology.dead_exchange,
    }


def declare_topology(channel: Any, topology: Topology, agencies: Iterable[str], delivery_limit: int) -> list[str]:
    """Declare exchanges and queues (idempotent); returns the submission queues. A queue that exists with other
    arguments (e.g. another delivery limit) makes the broker refuse: delete it, or keep the old setting."""
    channel.exchange_declare(topology.dead_exchange, exchange_type="fanout", durable=True)
    channel.queue_declare(topology.dead_queue, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(topology.dead_queue, topology.dead_exchange)
    channel.exchange_declare(topology.submit_exchange, exchange_type="direct", durable=True)
    declare_events(channel, topology)
    queues = []
    for agency in sorted(set(agencies)):
        name = topology.queue(agency)
        channel.queue_declare(name, durable=True, arguments=queue_arguments(topology, delivery_limit))
        channel.queue_bind(name, topology.submit_exchange, routing_key=agency)
        queues.append(name)
    return queues


def declare_events(channel: Any, topology: Topology) -> None:
    """The events exchange and the callbacks queue (single active consumer: one fan-out at a time keeps the
    events in order; the others stand by). Malformed messages go to the dead letters."""
    channel.exchange_declare(topology.events_exchange, exchange_type="topic", durable=True)
    channel.queue_declare(
        topology.callbacks_queue,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-single-active-consumer": True,
            "x-dead-letter-exchange": topology.dead_exchange,
        },
    )
    channel.queue_bind(topology.callbacks_queue, topology.events_exchange, routing_key="#")


def topology_of(settings: Settings) -> Topology:
    return Topology(settings.bus_prefix)


def setup(settings: Settings, agencies: Iterable[str]) -> list[str]:
    """Connect once and declare the topology (what `gerbang bus setup` runs)."""
    connection = pika.BlockingConnection(parameters(settings, name="gerbang-setup"))
    try:
        return declare_topology(connection.channel(), topology_of(settings), agencies, settings.bus_delivery_limit)
    finally:
        if connection.is_open:
            connection.close()


class Backoff:
    """Growing waits with full jitter between reconnection attempts: 0.5 s, 1 s, 2 s … up to `max_s`."""

    def __init__(self, max_s: float):
        self.max_s, self.failures = max_s, 0

    def next(self) -> float:
        cap = min(self.max_s, 0.5 * 2**self.failures)
        self.failures += 1
        return random.uniform(cap / 2, cap)

    def reset(self) -> None:
        self.failures = 0
