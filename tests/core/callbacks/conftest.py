"""The distributed-mode fixtures of tests/core/bus (a PostgreSQL schema, a RabbitMQ namespace, the API in
distributed mode, workers as threads or processes), for the tests of callbacks through the events exchange."""

from tests.core.bus.conftest import (  # noqa: F401
    bus_settings,
    counter,
    counter_key,
    make_bus_api,
    pg_url,
    processes,
    start_worker,
    topology,
)
