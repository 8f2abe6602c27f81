"""Publishing to RabbitMQ with publisher confirms: what the relay uses to hand outbox rows and callback events on.

Why confirms, and batches: a message counts as sent only once the broker confirmed it (an outbox row is marked
sent only then), and waiting for confirms per batch rather than per message costs one round trip per batch.
Messages carry ids only (`core.bus.message.Message`, the callback events' ids), are persistent and published
`mandatory`: an unroutable one comes back instead of vanishing, and counts as not sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pika
from pika.spec import Basic

from core.bus.amqp import Backoff

log = logging.getLogger(__name__)

PERSISTENT = 2


class Outgoing(NamedTuple):
    """A message to publish; `headers` carry the W3C trace context (`traceparent`) when tracing is on."""

    routing_key: str
    body: bytes
    message_id: str
    headers: dict[str, Any] | None = None


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

    def __init__(self, params: pika.URLParameters, *, reconnect_max_s: float = 30.0):
        self.params = params
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
        """Publish the messages persistently and mandatory; True per confirmed one."""
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
        for index, message in enumerate(messages):
            if channel is None or not channel.is_open:
                batch.settle(index, False)
                continue
            self._tag += 1
            self._pending[self._tag] = (batch, index, message.message_id)
            try:
                channel.basic_publish(
                    exchange,
                    message.routing_key,
                    message.body,
                    mandatory=True,
                    properties=pika.BasicProperties(
                        delivery_mode=PERSISTENT,
                        message_id=message.message_id,
                        content_type="application/json",
                        headers=message.headers,
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
