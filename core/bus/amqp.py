"""RabbitMQ: topology, connection parameters, a publisher with confirms and a consumer — each reconnecting with
backoff on its own thread, since pika does not reconnect by itself.

Topology (`declare_topology`, run by `gerbang bus setup` and at every worker start; idempotent; `gerbang` is the
default prefix, GERBANG_BUS_PREFIX):
- exchange `gerbang.submit` (direct, durable); per agency a durable **quorum** queue `gerbang.submit.<agency>`
  bound with the agency's name, with `x-delivery-limit` (a message that keeps crashing its consumer is
  dead-lettered instead of looping) and `x-dead-letter-exchange: gerbang.dead`;
- exchange `gerbang.dead` (fanout) and quorum queue `gerbang.dead`: failed applications and poison messages;
- exchange `gerbang.events` (topic, durable): every callback event, routing key `<agency>.<event type>`; quorum
  queue `gerbang.callbacks` bound with `#`, single active consumer: the callback fan-out of the workers
  (core/callbacks/exchange.py). Other consumers may bind queues of their own to the exchange.

Messages carry ids only (`core.bus.message.Message`), are persistent, published `mandatory` (an unroutable one
comes back instead of vanishing) and count as sent only once the broker confirmed them.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pika
from pika.exceptions import AMQPError
from pika.spec import Basic

from core.bus.handover import Handover
from core.settings import Settings

log = logging.getLogger(__name__)

PERSISTENT = 2


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

    def __init__(self, max_s: float, first_s: float = 0.5):
        self.max_s, self.first_s, self.failures = max_s, first_s, 0

    def next(self) -> float:
        cap = min(self.max_s, self.first_s * 2**self.failures)
        self.failures += 1
        return random.uniform(cap / 2, cap)

    def reset(self) -> None:
        self.failures = 0


Outgoing = tuple[str, bytes, str] | tuple[str, bytes, str, dict[str, Any] | None]
"""A message to publish: routing key, body, message id, and optionally its headers."""


class NotConnected(ConnectionError):
    """The publisher has no open channel right now (the broker is down or restarting)."""


@dataclass
class _Batch:
    size: int
    results: list[bool] = field(default_factory=list)
    left: int = 0
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.results = [False] * self.size
        self.left = self.size
        if self.size == 0:
            self.done.set()

    def settle(self, index: int, ok: bool) -> None:
        self.results[index] = ok
        self.left -= 1
        if self.left <= 0:
            self.done.set()


class ConfirmPublisher:
    """Publishes batches with publisher confirms on a pika SelectConnection of its own thread, so a batch costs
    one round trip rather than one per message. `publish()` is called from other threads and blocks until every
    message of the batch is confirmed (True), nacked or returned unroutable (False), or the connection is lost
    (False). Reconnects with backoff; unconfirmed messages are simply published again later by the relay."""

    def __init__(
        self,
        params: pika.URLParameters,
        *,
        reconnect_max_s: float = 30.0,
        on_connected: Callable[[], None] | None = None,
    ):
        self.params, self.on_connected = params, on_connected
        self.backoff = Backoff(reconnect_max_s)
        self._thread = threading.Thread(target=self._run, name="gerbang-publisher", daemon=True)
        self._connection: pika.SelectConnection | None = None
        self._channel: Any = None
        self._ready = threading.Event()
        self._stopping = False
        self._pending: dict[int, tuple[_Batch, int, str]] = {}
        self._returned: set[str] = set()
        self._tag = 0
        self.unroutable = 0

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    def start(self) -> ConfirmPublisher:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopping = True
        connection = self._connection
        if connection is not None:
            try:
                connection.ioloop.add_callback_threadsafe(self._close)
            except Exception:  # the loop is already gone
                pass
        self._thread.join(timeout_s)

    def wait_connected(self, timeout_s: float) -> bool:
        return self._ready.wait(timeout_s)

    def publish(self, exchange: str, messages: Sequence[Outgoing], timeout_s: float = 10.0) -> list[bool]:
        """Publish (routing key, body, message id[, headers]) persistently and mandatory; True per confirmed one.
        Headers carry the W3C trace context (`traceparent`) when tracing is on."""
        if not self._ready.wait(timeout_s):
            raise NotConnected("no connection to RabbitMQ")
        connection = self._connection
        batch = _Batch(len(messages))
        if connection is None or not messages:
            return batch.results
        try:
            connection.ioloop.add_callback_threadsafe(lambda: self._publish(batch, exchange, messages))
        except Exception as exc:
            raise NotConnected(f"connection closing ({type(exc).__name__})") from exc
        if not batch.done.wait(timeout_s):
            raise TimeoutError(f"{batch.left} of {batch.size} messages not confirmed within {timeout_s}s")
        return list(batch.results)

    # --- on the publisher's own thread --------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping:
            try:
                self._connection = pika.SelectConnection(
                    self.params,
                    on_open_callback=self._on_open,
                    on_open_error_callback=self._on_open_error,
                    on_close_callback=self._on_closed,
                )
                self._connection.ioloop.start()
            except Exception:
                log.exception("publisher connection failed")
            finally:
                if self._connection is not None:
                    try:
                        self._connection.ioloop.close()
                    except Exception:
                        pass
            self._ready.clear()
            self._fail_pending()
            if not self._stopping:
                wait = self.backoff.next()
                log.warning("publisher: reconnecting to RabbitMQ in %.1fs", wait)
                time.sleep(wait)

    def _close(self) -> None:
        if self._connection is not None and self._connection.is_open:
            self._connection.close()
        elif self._connection is not None:
            self._connection.ioloop.stop()

    def _on_open(self, connection: pika.SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel)

    def _on_open_error(self, connection: pika.SelectConnection, error: BaseException) -> None:
        log.warning("publisher: cannot connect to RabbitMQ (%s)", type(error).__name__)
        connection.ioloop.stop()

    def _on_closed(self, connection: pika.SelectConnection, reason: BaseException) -> None:
        if not self._stopping:
            log.warning("publisher: connection closed (%s)", reason)
        self._channel = None
        self._ready.clear()
        self._fail_pending()
        connection.ioloop.stop()

    def _on_channel(self, channel: Any) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        self._tag = 0
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=lambda _: self._on_confirming(channel))

    def _on_confirming(self, channel: Any) -> None:
        self._channel = channel
        self.backoff.reset()
        if self.on_connected is not None:
            try:
                self.on_connected()
            except Exception:
                log.exception("publisher: on_connected failed")
        self._ready.set()

    def _on_channel_closed(self, channel: Any, reason: BaseException) -> None:
        self._channel = None
        self._ready.clear()
        self._fail_pending()
        if self._connection is not None and self._connection.is_open and not self._stopping:
            log.warning("publisher: channel closed (%s); reconnecting", reason)
            self._connection.close()

    def _on_return(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        self.unroutable += 1
        if properties.message_id:
            self._returned.add(properties.message_id)
        log.error("publisher: message returned unroutable (%s %s)", method.reply_code, method.routing_key)

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        ok = isinstance(method, Basic.Ack)
        tags = [t for t in self._pending if t <= method.delivery_tag] if method.multiple else [method.delivery_tag]
        for tag in tags:
            entry = self._pending.pop(tag, None)
            if entry is None:
                continue
            batch, index, message_id = entry
            returned = message_id in self._returned
            self._returned.discard(message_id)
            batch.settle(index, ok and not returned)

    def _publish(self, batch: _Batch, exchange: str, messages: Sequence[Outgoing]) -> None:
        channel = self._channel
        for index, (routing_key, body, message_id, *headers) in enumerate(messages):
            if channel is None or not channel.is_open:
                batch.settle(index, False)
                continue
            self._tag += 1
            self._pending[self._tag] = (batch, index, message_id)
            try:
                channel.basic_publish(
                    exchange,
                    routing_key,
                    body,
                    mandatory=True,
                    properties=pika.BasicProperties(
                        delivery_mode=PERSISTENT,
                        message_id=message_id,
                        content_type="application/json",
                        headers=headers[0] if headers else None,
                    ),
                )
            except Exception:
                log.exception("publisher: publish failed")
                self._pending.pop(self._tag, None)
                batch.settle(index, False)

    def _fail_pending(self) -> None:
        pending, self._pending = self._pending, {}
        self._returned.clear()
        for batch, index, _ in pending.values():
            batch.settle(index, False)


@dataclass(frozen=True)
class Delivery:
    """One message as the consumer received it; `generation` ties its delivery tag to one connection."""

    generation: int
    tag: int
    body: bytes
    queue: str
    delivery_count: int
    redelivered: bool
    traceparent: str | None = None  # the W3C trace context the publisher sent (tracing on)


class Consumer:
    """Consumes the agency queues with manual acks and a per-queue prefetch on a BlockingConnection of its own
    thread (which also keeps heartbeats going), reconnecting with backoff. `on_message(delivery)` must not
    block: the work happens elsewhere, which then calls `settle(delivery, "ack" | "requeue" | "dead")`. A settle
    for a delivery of a connection that has since been lost is dropped — the broker redelivers that message."""

    def __init__(
        self,
        params: pika.URLParameters,
        queues: Sequence[str],
        prefetch: int,
        on_message: Callable[[Delivery], None],
        *,
        reconnect_max_s: float = 30.0,
        on_connected: Callable[[Any], None] | None = None,
    ):
        self.params, self.queues, self.prefetch, self.on_message = params, list(queues), prefetch, on_message
        self.on_connected = on_connected
        self.backoff = Backoff(reconnect_max_s)
        self._thread = threading.Thread(target=self._run, name="gerbang-consumer", daemon=True)
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None
        self._generation = 0
        self._stopping = False
        self._paused = False
        self._connected = threading.Event()
        self.reconnects = 0
        # settles wait here for the connection's thread, which takes all that queued up in one callback
        self._settles: Handover[tuple[Delivery, str]] = Handover(lambda settle: self._settle_now(*settle))

    def start(self) -> Consumer:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopping = True
        self._thread.join(timeout_s)

    def pause(self) -> None:
        """Stop receiving new messages (keep the connection, so running attempts can still be acknowledged)."""
        self._paused = True
        connection = self._connection
        if connection is None:
            return
        try:
            connection.add_callback_threadsafe(self._cancel_all)
        except Exception:
            pass

    def _cancel_all(self) -> None:
        channel = self._channel
        if channel is not None and channel.is_open:
            for tag in list(channel.consumer_tags):
                channel.basic_cancel(tag)

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def settle(self, delivery: Delivery, action: str) -> None:
        """Queue the ack / requeue / dead-letter for the connection's thread. One wake-up of that thread takes
        every settle queued by then (one per settle cost the thread more than the message's delivery)."""
        connection = self._connection
        if connection is None or delivery.generation != self._generation:
            return
        try:
            self._settles.put((delivery, action), connection.add_callback_threadsafe)
        except Exception:  # connection closed meanwhile: the broker will redeliver
            pass

    def _settle_now(self, delivery: Delivery, action: str) -> None:
        channel = self._channel
        if channel is None or not channel.is_open or delivery.generation != self._generation:
            return
        if action == "ack":
            channel.basic_ack(delivery.tag)
        elif action == "requeue":
            channel.basic_nack(delivery.tag, requeue=True)
        else:
            channel.basic_reject(delivery.tag, requeue=False)

    def _run(self) -> None:
        while not self._stopping:
            connection = None
            try:
                connection = pika.BlockingConnection(self.params)
                channel = connection.channel()
                if self.on_connected is not None:
                    self.on_connected(channel)
                channel.basic_qos(prefetch_count=self.prefetch)  # per consumer, i.e. per agency queue
                self._settles.clear()  # settles of the lost connection are void; a wake-up may have been lost
                self._generation += 1
                generation = self._generation
                for queue in self.queues if not self._paused else ():
                    channel.basic_consume(queue, self._callback(generation, queue), auto_ack=False)
                self._connection, self._channel = connection, channel
                if self.reconnects or self.backoff.failures:
                    log.info("consumer: connected to RabbitMQ again")
                self.backoff.reset()
                self._connected.set()
                while not self._stopping:
                    connection.process_data_events(time_limit=0.2)
                channel.close()
                connection.close()
            except (AMQPError, OSError) as exc:
                if not self._stopping:
                    log.warning("consumer: connection lost (%s)", type(exc).__name__)
            except Exception:
                log.exception("consumer: unexpected error")
            finally:
                self._connected.clear()
                self._channel = None
                self._connection = None
                if connection is not None and connection.is_open:
                    try:
                        connection.close()
                    except Exception:
                        pass
            if not self._stopping:
                self.reconnects += 1
                wait = self.backoff.next()
                log.warning("consumer: reconnecting in %.1fs", wait)
                deadline = time.monotonic() + wait
                while not self._stopping and time.monotonic() < deadline:
                    time.sleep(0.05)

    def _callback(self, generation: int, queue: str) -> Callable[..., None]:
        def deliver(channel: Any, method: Any, properties: Any, body: bytes) -> None:
            headers = properties.headers or {}
            count = headers.get("x-delivery-count", 0)
            parent = headers.get("traceparent")
            self.on_message(
                Delivery(
                    generation,
                    method.delivery_tag,
                    body,
                    queue,
                    int(count) if isinstance(count, int) else 0,
                    bool(method.redelivered),
                    parent if isinstance(parent, str) else None,
                )
            )

        return deliver
