"""Distributed-mode fixtures: a PostgreSQL database and a RabbitMQ namespace of the test's own, the API in
distributed mode, and workers — in-process (a thread with its own event loop) or as `gerbang worker` processes.

Each test gets its own GERBANG_BUS_PREFIX, so its exchanges and queues are its own; they are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
from fastapi.testclient import TestClient

from connectors.registry import discover
from core.api.app import create_app
from core.api.state import app_state
from core.bus.amqp import Topology
from core.bus.runtime import Worker
from core.db import make_engine, session_factory
from core.demo import agency_environment
from core.security.clients import create_client
from core.settings import Settings
from tests.conftest import BUS_SECRETS, POSTGRES_URL, postgres_database
from tests.core.bus.helpers import FAST
from tests.core.bus.processes import Processes, environment
from tests.core.conftest import COUNTER_CONTEXT

AMQP_URL = os.environ.get("GERBANG_TEST_AMQP_URL")
needs_bus = [pytest.mark.rabbitmq,
             pytest.mark.skipif(not AMQP_URL, reason="GERBANG_TEST_AMQP_URL not set"),
             pytest.mark.skipif(not POSTGRES_URL, reason="GERBANG_TEST_DATABASE_URL not set")]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own."""
    with postgres_database() as url:
        yield url


@pytest.fixture
def topology() -> Iterator[Topology]:
    """A RabbitMQ namespace for this test; its exchanges and queues are deleted afterwards."""
    chosen = Topology(f"gt{uuid.uuid4().hex[:10]}")
    yield chosen
    assert AMQP_URL
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        for name in [chosen.queue(a) for a, p in discover().items() if p.services] + [chosen.dead_queue,
                                                                                    chosen.callbacks_queue]:
            channel.queue_delete(name)
        for name in (chosen.submit_exchange, chosen.dead_exchange, chosen.events_exchange):
            channel.exchange_delete(name)
    finally:
        connection.close()


@pytest.fixture
def bus_settings(pg_url: str, topology: Topology, simulators: Any, tmp_path: Path) -> Callable[..., Settings]:
    """`bus_settings(**overrides)` → distributed settings on this test's schema and namespace."""
    env = agency_environment(discover(), simulators)

    def make(**overrides: Any) -> Settings:
        values = {**FAST, "amqp_reconnect_max_s": 1.0, "amqp_heartbeat_s": 10, "bus_prefetch": 20, **overrides}
        return Settings(database_url=pg_url, amqp_url=AMQP_URL, bus_prefix=topology.prefix, agency_env=env,
                        data_dir=tmp_path, **BUS_SECRETS, **values)

    return make


@pytest.fixture
def counter_key(pg_url: str) -> str:
    engine = make_engine(pg_url)
    try:
        with session_factory(engine)() as session:
            _, key = create_client(session, "counter", ["application:submit:*", "application:read"], [])
    finally:
        engine.dispose()
    return key


@pytest.fixture
def counter(counter_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {counter_key}"}


@pytest.fixture
def make_bus_api(bus_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    """`make_bus_api(**overrides)` → the API in distributed mode: it only writes the outbox."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        client = TestClient(create_app(bus_settings(**overrides)), headers=COUNTER_CONTEXT)
        client.__enter__()
        clients.append(client)
        assert app_state(client.app).dispatcher is None
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def bus_api(make_bus_api: Callable[..., TestClient]) -> TestClient:
    return make_bus_api()


class WorkerThread:
    """`Worker.run` on a thread with its own event loop, as `gerbang worker` runs it."""

    def __init__(self, settings: Settings):
        self.worker = Worker(settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="test-worker", daemon=True)
        self._thread.start()
        assert self._started.wait(10)

    def _main(self) -> None:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._started.set()
            await self.worker.run(self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "worker did not stop"
        if self.error is not None:
            raise self.error


@pytest.fixture
def start_worker(bus_settings: Callable[..., Settings]) -> Iterator[Callable[..., WorkerThread]]:
    started: list[WorkerThread] = []

    def start(**overrides: Any) -> WorkerThread:
        worker = WorkerThread(bus_settings(**overrides))
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


worker_environment = environment
"""The environment a `gerbang worker` process needs to behave like `settings` (tests/core/bus/processes.py)."""


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Starts `gerbang serve` / `gerbang worker` processes (logs in tmp_path/logs); all stopped afterwards."""
    with Processes(tmp_path / "logs") as started:
        yield started


@pytest.fixture
def spawn_worker(bus_settings: Callable[..., Settings], processes: Processes
                 ) -> Callable[..., subprocess.Popen[bytes]]:
    """`spawn_worker(**overrides)` → a `gerbang worker` process; any still running is stopped afterwards."""

    def spawn(**overrides: Any) -> subprocess.Popen[bytes]:
        return processes.worker(bus_settings(**overrides))

    return spawn
