"""Prometheus metrics: agency calls timed where they happen, everything else read at scrape time.

Agency calls are timed and counted by core/ops/calls.py. Process-wide metrics live in prometheus_client's default
registry; what depends on one app (its breakers, its database, its broker) is a custom Collector in the app's own
registry, computed when scraped: one database connection, a handful of indexed queries, and the broker's queue
depths from a cached probe (core/ops/probe.py). No label carries anything about a citizen.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from connectors.breaker import BreakerState, CircuitBreaker
from core.audit import store
from core.audit.models import state_table
from core.bus.models import Application, Outbox, Status
from core.db.tables import table_of
from core.ops.probe import BrokerProbe
from identity.clock import as_utc

log = logging.getLogger(__name__)


class StateCollector(Collector):
    """Gauges of one app computed at scrape time: breakers, outbox, applications, audit log, broker queues."""

    def __init__(
        self,
        engine: Engine,
        breakers: dict[str, CircuitBreaker],
        probe: BrokerProbe | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine, self.breakers, self.probe, self.clock = engine, breakers, probe, clock

    def collect(self) -> Iterator[Any]:
        yield from self._breakers()
        try:
            yield from self._database()
        except SQLAlchemyError as exc:
            log.warning("metrics: database unavailable (%s)", type(exc).__name__)
            up = GaugeMetricFamily("gerbang_database_up", "1 when the database answered this scrape.")
            up.add_metric([], 0)
            yield up
        if self.probe is not None:
            yield from self._broker()

    def _breakers(self) -> Iterator[Any]:
        state = GaugeMetricFamily(
            "gerbang_breaker_state", "1 for each agency breaker's current state.", labels=["agency", "state"]
        )
        failures = GaugeMetricFamily(
            "gerbang_breaker_consecutive_failures",
            "Consecutive transient failures seen by each agency's breaker.",
            labels=["agency"],
        )
        for name, breaker in sorted(self.breakers.items()):
            now = breaker.state
            for candidate in BreakerState:
                state.add_metric([name, candidate.value], 1 if candidate is now else 0)
            failures.add_metric([name], breaker.failures)
        yield state
        yield failures

    def _database(self) -> Iterator[Any]:
        now = self.clock()
        o, a = table_of(Outbox).c, table_of(Application).c
        with self.engine.connect() as conn:
            oldest = conn.execute(select(o.created_at).where(o.sent_at.is_(None)).order_by(o.id).limit(1)).scalar()
            unsent = conn.execute(
                select(func.count()).select_from(table_of(Outbox)).where(o.sent_at.is_(None))
            ).scalar_one()
            by_status: dict[str, int] = dict(conn.execute(select(a.status, func.count()).group_by(a.status)).all())
            retrying = conn.execute(
                select(func.count())
                .select_from(table_of(Application))
                .where(a.status == Status.queued.value, a.attempts > 0)
            ).scalar_one()
            audit = conn.execute(select(state_table.c.size)).first()
            checkpoint = store.latest_checkpoint(conn)
        up = GaugeMetricFamily("gerbang_database_up", "1 when the database answered this scrape.")
        up.add_metric([], 1)
        yield up
        lag = GaugeMetricFamily(
            "gerbang_outbox_lag_seconds", "Age of the oldest outbox row not yet handed on (0: none)."
        )
        lag.add_metric([], max(0.0, now - as_utc(oldest).timestamp()) if oldest is not None else 0.0)
        yield lag
        pending = GaugeMetricFamily("gerbang_outbox_unsent", "Outbox rows not yet handed on.")
        pending.add_metric([], unsent)
        yield pending
        apps = GaugeMetricFamily("gerbang_applications", "Applications by status.", labels=["status"])
        for status in Status:
            apps.add_metric([status.value], by_status.get(status.value, 0))
        yield apps
        retry = GaugeMetricFamily(
            "gerbang_applications_retrying", "Applications waiting for another attempt after a failed one."
        )
        retry.add_metric([], retrying)
        yield retry
        dead = GaugeMetricFamily(
            "gerbang_applications_dead_lettered",
            "Applications that failed for good (dead-lettered; an operator may replay them).",
        )
        dead.add_metric([], by_status.get(Status.failed.value, 0))
        yield dead
        size = GaugeMetricFamily("gerbang_audit_log_entries", "Entries sequenced into the audit log.")
        size.add_metric([], audit.size if audit is not None else 0)
        yield size
        signed = GaugeMetricFamily("gerbang_audit_checkpoint_entries", "Tree size of the latest signed checkpoint.")
        signed.add_metric([], checkpoint.size if checkpoint is not None else 0)
        yield signed
        age = GaugeMetricFamily(
            "gerbang_audit_checkpoint_age_seconds",
            "Seconds since the latest checkpoint was signed (absent before the first).",
        )
        if checkpoint is not None:
            age.add_metric([], max(0.0, now - checkpoint.signed_us / 1e6))
        yield age

    def _broker(self) -> Iterator[Any]:
        assert self.probe is not None
        result = self.probe.check()
        up = GaugeMetricFamily("gerbang_broker_up", "1 when RabbitMQ answered the latest (cached) probe.")
        up.add_metric([], 1 if result.ok else 0)
        yield up
        depth = GaugeMetricFamily(
            "gerbang_queue_messages", "Messages ready in each RabbitMQ queue (cached probe).", labels=["queue"]
        )
        for queue, count in sorted(result.depths.items()):
            depth.add_metric([queue], count)
        yield depth


def exposition(app_registry: CollectorRegistry) -> bytes:
    """The text exposition: process-wide metrics (default registry) followed by the app's own."""
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY) + generate_latest(app_registry)
