"""Consuming from RabbitMQ with manual acknowledgements: what the worker reads the agency queues (and the
callback fan-out its queue) with.

Why manual acks on a connection of its own: a message is acknowledged only once its attempt's outcome (or its
fan-out) is committed, so a crash before leaves it to be redelivered; and a BlockingConnection on its own thread
keeps the heartbeats going while the work runs elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pika
from pika.exceptions import AMQPError

from core.bus.amqp import Backoff
from core.bus.handover import Handover

log = logging.getLogger(__name__)


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
