"""`gerbang worker`: relay the outbox to RabbitMQ and consume the agency queues (distributed mode)."""

from __future__ import annotations

import asyncio
import signal

import typer

from core.cli.common import fail
from core.settings import get_settings


def worker(
    relay: bool = typer.Option(True, help="Also relay the outbox (several workers may relay at once)"),
    callbacks: bool = typer.Option(
        True,
        help="Also fan out events from the events exchange and deliver callbacks (one fan-out is active at a time)",
    ),
) -> None:
    """Submit applications to the agencies: relay the outbox to RabbitMQ, consume the per-agency queues, retry
    and reschedule, dead-letter. Stops cleanly on SIGTERM or Ctrl-C; run as many as the load needs."""
    from core.bus.runtime import Worker
    from core.logs import setup as setup_logging
    from core.ops import tracing

    settings = get_settings()
    setup_logging(settings.log_level, settings.log_format)
    tracing.setup("gerbang-worker")  # OpenTelemetry, if the OTEL_* environment asks for it
    if not settings.amqp_url:
        fail("GERBANG_AMQP_URL is not set: in embedded mode the API dispatches applications itself")
    try:
        process = Worker(settings, relay=relay, callbacks=callbacks)
    except ValueError as exc:
        fail(str(exc))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await process.run(stop)

    try:
        asyncio.run(main())
    except ValueError as exc:  # missing shared secrets and the like
        fail(str(exc))
