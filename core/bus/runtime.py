"""`gerbang worker` (distributed mode): one process running the relay, the consumers of the agency queues and
the callbacks (the fan-out from the events exchange and the deliverer).

Threads: the relay (database → RabbitMQ with confirms: outbox rows and callback events), the publisher's
connection, the consumer's connection, the callback fan-out's connection and thread; the attempts and the
callback deliveries run on an asyncio loop (the connectors are async), their database work on a thread pool.
A delivery is acknowledged only after the attempt's outcome (or the event's fan-out) is committed. Several
workers may run side by side.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core.agencies import AgencyRegistry, build_registry
from core.audit.signer import load_signer
from core.bus import amqp
from core.bus.attempt import attempt, consume_span
from core.bus.consumer import Consumer, Delivery
from core.bus.gates import AgencyGates
from core.bus.handover import Handover
from core.bus.message import Message, PoisonMessage
from core.bus.models import Status
from core.bus.publisher import ConfirmPublisher
from core.bus.relay import Relay
from core.bus.states import Policy
from core.bus.steps import BatchedSteps
from core.bus.sweep import fail_unprocessable
from core.callbacks.delivery import Deliverer
from core.callbacks.exchange import FanOutConsumer
from core.db import make_engine, session_factory
from core.security.secrets import load_secrets
from core.settings import Settings

log = logging.getLogger(__name__)
DB_THREADS = 24
PING_IDLE_S = 1.0  # ping a pooled database connection only if it sat idle this long (core/db/engine.py)


class Worker:
    """Relay + consumers for the agencies configured in this process's settings."""

    def __init__(
        self, settings: Settings, *, registry: AgencyRegistry | None = None, relay: bool = True, callbacks: bool = True
    ):
        if not settings.amqp_url:
            raise ValueError("gerbang worker needs GERBANG_AMQP_URL (embedded mode dispatches inside the API)")
        self.settings, self.registry, self.with_relay = settings, registry, relay
        self.with_callbacks = callbacks
        self.relay: Relay | None = None
        self.fan_out: FanOutConsumer | None = None
        self.deliverer: Deliverer | None = None
        self.counts = {"ack": 0, "requeue": 0, "dead": 0}
        self.ready = asyncio.Event()
        self.consumer: Consumer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event, grace_s: float = 10.0) -> None:
        settings = self.settings
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(DB_THREADS, thread_name_prefix="gerbang-db"))
        engine = make_engine(settings.database_url, ping_idle_s=PING_IDLE_S, multirow_inserts=True)
        sessions = session_factory(engine)
        secrets = load_secrets(settings)
        policy = Policy.from_settings(settings)
        own_registry = self.registry is None
        registry = self.registry or build_registry(settings)
        connectors = {name: agency.connector for name, agency in registry.active.items()}
        agencies = [name for name, plugin in registry.plugins.items() if plugin.services]
        topology = amqp.topology_of(settings)
        consumed = [topology.queue(name) for name in agencies if name in connectors]
        params = amqp.parameters(settings, name=f"gerbang-worker-{os.getpid()}")

        def declare(channel: Any) -> None:
            amqp.declare_topology(channel, topology, agencies, settings.bus_delivery_limit)

        def redeclare() -> None:
            try:
                amqp.setup(settings, agencies)
            except Exception:
                log.exception("could not declare the topology again")

        gates = AgencyGates.of(registry, settings.bus_prefetch)
        steps = BatchedSteps(sessions, secrets, policy)

        async def handle(delivery: Delivery) -> None:
            action = await self._process(delivery, steps, sessions, connectors, policy, gates)
            self.counts[action] += 1
            assert self.consumer is not None
            self.consumer.settle(delivery, action)

        def start(delivery: Delivery) -> None:
            task = loop.create_task(handle(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._done)

        arrived: Handover[Delivery] = Handover(start)

        def on_message(delivery: Delivery) -> None:
            """On the consumer's thread: hand the delivery to the loop, which starts every one handed over by the
            time it wakes (core/bus/handover.py)."""
            arrived.put(delivery, loop.call_soon_threadsafe)

        publisher = relay = fan_out = deliverer = None
        signer = load_signer(settings) if self.with_callbacks else None
        try:
            self.consumer = Consumer(
                params,
                consumed,
                settings.bus_prefetch,
                on_message,
                on_connected=declare,
                reconnect_max_s=settings.amqp_reconnect_max_s,
            ).start()
            # the consumer declares the topology when it connects: relay only then, or the first messages
            # would come back unroutable (they would be published again, but why waste the round)
            for _ in range(60):  # up to 30 s, but a stop (Ctrl-C) meanwhile is heard at once
                if stop.is_set() or await asyncio.to_thread(self.consumer.wait_connected, 0.5):
                    break
            if stop.is_set():
                return
            if self.with_relay:
                publisher = ConfirmPublisher(params, reconnect_max_s=settings.amqp_reconnect_max_s).start()
                relay = self.relay = Relay(
                    sessions,
                    publisher,
                    policy,
                    topology.submit_exchange,
                    batch=settings.bus_batch,
                    poll_s=settings.bus_poll_s,
                    on_unroutable=redeclare,
                    events_exchange=topology.events_exchange,
                ).start()
            if self.with_callbacks:
                deliverer = self.deliverer = Deliverer(sessions, settings, signer, fan_out=False).start()
                fan_out = self.fan_out = FanOutConsumer(
                    amqp.parameters(settings, name=f"gerbang-callbacks-{os.getpid()}"),
                    topology.callbacks_queue,
                    sessions,
                    deliverer.wake_threadsafe,
                    reconnect_max_s=settings.amqp_reconnect_max_s,
                    on_connected=declare,
                ).start()
            log.info(
                "worker %d: consuming %s%s%s",
                os.getpid(),
                ", ".join(consumed) or "nothing",
                " and relaying the outbox" if relay else "",
                " and delivering callbacks" if fan_out else "",
            )
            self.ready.set()
            await stop.wait()
        finally:
            if self.consumer is not None:
                self.consumer.pause()  # no new deliveries; running attempts finish and are acknowledged
            if fan_out is not None:
                await asyncio.to_thread(fan_out.stop)
            if relay is not None:
                relay.stop()
            if publisher is not None:
                publisher.stop()
            if self._tasks:  # let running attempts finish and be acknowledged
                await asyncio.wait(list(self._tasks), timeout=grace_s)
            if self.consumer is not None:
                await asyncio.to_thread(self.consumer.stop)
            if deliverer is not None:
                await deliverer.stop()
            if own_registry:
                await registry.aclose()
            engine.dispose()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:  # unacknowledged: the broker redelivers it
            log.error("handling a delivery failed: %s", type(task.exception()).__name__)

    async def _process(
        self,
        delivery: Delivery,
        steps: BatchedSteps,
        sessions: Any,
        connectors: Any,
        policy: Policy,
        gates: AgencyGates,
    ) -> str:
        """One delivery → "ack", "requeue" (try again) or "dead" (dead-letter it)."""
        try:
            message = Message.decode(delivery.body)
        except PoisonMessage as exc:
            log.error("dead-lettering a malformed message from %s: %s", delivery.queue, exc)
            return "dead"
        try:
            with consume_span(message, delivery.queue, delivery.traceparent):
                status = await attempt(steps, message, connectors, policy, gates)
        except PoisonMessage as exc:
            log.error("dead-lettering message %s: %s", message.message_id, exc)
            return "dead"
        except Exception as exc:
            deliveries = delivery.delivery_count + 1
            log.exception(
                "message %s failed (delivery %d of at most %d)",
                message.message_id,
                deliveries,
                self.settings.bus_delivery_limit,
            )
            if deliveries < self.settings.bus_delivery_limit:
                return "requeue"
            error = type(exc).__name__
            try:

                def give_up() -> bool:
                    with sessions() as session:
                        return fail_unprocessable(session, message.application_id, error)

                await asyncio.to_thread(give_up)
            except Exception:
                log.exception("could not mark application %s failed", message.application_id)
            return "dead"
        return "dead" if status == Status.failed.value else "ack"
