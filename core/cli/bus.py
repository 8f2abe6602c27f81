"""`gerbang bus …`: the RabbitMQ topology (exchanges, per-agency quorum queues, dead letters)."""

from __future__ import annotations

import json

import typer

from core.cli.common import fail
from core.settings import get_settings

app = typer.Typer(help="Message bus (RabbitMQ) topology.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Message bus (RabbitMQ) topology."""


@app.command("setup")
def setup_command() -> None:
    """Declare exchanges and the durable quorum queue of every agency with services (safe to run repeatedly;
    `gerbang worker` does it at start too)."""
    from pika.exceptions import AMQPError

    from connectors.registry import discover
    from core.bus import amqp

    settings = get_settings()
    if not settings.amqp_url:
        fail("GERBANG_AMQP_URL is not set: embedded mode needs no broker")
    agencies = [name for name, plugin in discover().items() if plugin.services]
    try:
        queues = amqp.setup(settings, agencies)
    except AMQPError as exc:
        fail(
            f"cannot set up RabbitMQ ({type(exc).__name__}: {exc}); a queue declared earlier with other "
            "arguments (e.g. another GERBANG_BUS_DELIVERY_LIMIT) must be deleted first"
        )
    except OSError as exc:
        fail(f"cannot reach RabbitMQ ({exc.strerror or exc})")
    topology = amqp.topology_of(settings)
    typer.echo(
        json.dumps(
            {
                "exchange": topology.submit_exchange,
                "queues": queues,
                "dead_letters": topology.dead_queue,
                "delivery_limit": settings.bus_delivery_limit,
                "events_exchange": topology.events_exchange,
                "callbacks_queue": topology.callbacks_queue,
            }
        )
    )
