"""A cached RabbitMQ probe shared by /readyz and /metrics: is the broker there, and how deep are our queues.

One short-lived connection per probe, queue depths by passive declare (which never creates or changes a queue),
and the result reused for `GERBANG_READY_CACHE_S` seconds, so a load balancer probing every second and a
Prometheus scraping every few seconds cost the broker one connection every couple of seconds per process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pika
import pika.exceptions

from core.bus import amqp
from core.settings import Settings


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    error: str | None = None
    depths: dict[str, int] = field(default_factory=dict)


class BrokerProbe:
    """`check()` → the latest ProbeResult, probing again only when the cached one is older than `ttl_s`."""

    def __init__(
        self, settings: Settings, agencies: Sequence[str], ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        topology = amqp.topology_of(settings)
        self.settings, self.ttl_s, self.clock = settings, ttl_s, clock
        self.queues = [topology.queue(name) for name in sorted(agencies)] + [
            topology.dead_queue,
            topology.callbacks_queue,
        ]
        self._lock = threading.Lock()
        self._result: ProbeResult | None = None
        self._at = 0.0

    def check(self) -> ProbeResult:
        with self._lock:  # concurrent callers wait for one probe instead of each opening a connection
            if self._result is None or self.clock() - self._at >= self.ttl_s:
                self._result, self._at = self._probe(), self.clock()
            return self._result

    def _probe(self) -> ProbeResult:
        params = amqp.parameters(self.settings, name="gerbang-probe")
        params.socket_timeout = params.blocked_connection_timeout = 2.0
        params.stack_timeout = 3.0
        try:
            connection = pika.BlockingConnection(params)
        except (pika.exceptions.AMQPError, OSError) as exc:
            return ProbeResult(False, f"cannot connect to RabbitMQ ({type(exc).__name__})")
        depths: dict[str, int] = {}
        try:
            channel = connection.channel()
            for queue in self.queues:
                try:
                    depths[queue] = channel.queue_declare(queue, passive=True).method.message_count
                except pika.exceptions.ChannelClosedByBroker:  # not declared yet (gerbang bus setup): no depth
                    channel = connection.channel()
            return ProbeResult(True, None, depths)
        except (pika.exceptions.AMQPError, OSError) as exc:
            return ProbeResult(False, f"RabbitMQ failed during the probe ({type(exc).__name__})", depths)
        finally:
            try:
                connection.close()
            except (pika.exceptions.AMQPError, OSError):
                pass
