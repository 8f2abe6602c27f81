"""`gerbang simulate …`: look at the synthetic population the simulators serve (and, later, run them).

`sample` prints people as JSON lines so a demo script or a tester can pick NIKs: ordinary ones, and the deceased,
inactive and unknown-to-the-civil-registry cases every sample of five or more includes.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from typing import Any

import typer

from connectors.simkit.population import Person, Population

app = typer.Typer(help="Synthetic population and agency simulators.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Synthetic population and agency simulators (a group even while it has one command)."""


def person_json(person: Person) -> dict[str, Any]:
    """A person as a JSON-ready dict, dates in ISO 8601; the most useful keys come first."""
    data = dataclasses.asdict(person)
    first = ("nik", "name", "life_status", "in_dukcapil", "sex", "birth_date")
    ordered = {key: data.pop(key) for key in first}
    ordered.update(data)
    return {k: v.isoformat() if isinstance(v, datetime.date) else v for k, v in ordered.items()}


@app.command()
def sample(
    count: int = typer.Option(10, "--count", "-n", min=0, max=100_000, help="How many people to print."),
    seed: int = typer.Option(2024, "--seed", help="Population seed (the simulators' default is 2024)."),
    size: int = typer.Option(
        500, "--size", min=1, max=1_000_000, help="Population size; raised to --count when smaller."
    ),
) -> None:
    """Print COUNT people of the synthetic population as JSON lines."""
    population = Population(seed=seed, size=max(size, count, 1))
    for person in population.sample(count):
        typer.echo(json.dumps(person_json(person), ensure_ascii=False))


def allow_lists(args: list[str]) -> dict[str, list[str]]:
    """`--<agency>-allow ADDRESS` (repeatable, or `--<agency>-allow=ADDRESS`) → {agency: [addresses]}: an agency's
    simulator that checks callers' addresses (the civil registry's does) allows these; anything else is refused."""
    lists: dict[str, list[str]] = {}
    words = iter(args)
    for word in words:
        match = re.fullmatch(r"--([a-z][a-z0-9_]*)-allow(?:=(.+))?", word)
        value = (match.group(2) or next(words, None)) if match else None
        if match is None or value is None:
            raise typer.BadParameter(f"unexpected argument {word!r} (expected --<agency>-allow ADDRESS)")
        lists.setdefault(match.group(1), []).append(value)
    return lists


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def serve(
    context: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 inside a container)."),
    port_base: int = typer.Option(
        9001,
        "--port-base",
        min=0,
        max=65_000,
        help="First port; agencies take consecutive ports in name order (0: any).",
    ),
    seed: int = typer.Option(2024, "--seed", help="Population seed (the same in every simulator)."),
    size: int = typer.Option(500, "--size", min=1, max=1_000_000, help="Population size."),
    public_url: str = typer.Option(
        "", help="Base URL the bus uses to reach this host, e.g. http://simulators (default: http://HOST)."
    ),
) -> None:
    """Run every agency simulator on its own (docker compose, distributed runs) until Ctrl-C.

    Prints each simulator's URL and the GERBANG_AGENCY_* settings that point a bus at them. `--<agency>-allow
    ADDRESS` (repeatable) puts an address or CIDR network on that agency simulator's IP allow-list (default
    127.0.0.1)."""
    import threading

    from connectors.registry import discover
    from connectors.simkit import serving
    from core.cli.common import fail
    from core.logs import setup

    setup("WARNING")
    allowed = allow_lists(context.args)
    population = Population(seed=seed, size=size)
    plugins = {name: plugin for name, plugin in discover().items() if plugin.simulator is not None}
    if set(allowed) - set(plugins):
        fail(f"no simulator for: {', '.join(sorted(set(allowed) - set(plugins)))}")
    running: dict[str, serving.RunningServer] = {}
    try:
        for offset, (name, plugin) in enumerate(plugins.items()):
            options = {"ip_allow": allowed[name]} if name in allowed else {}
            assert plugin.simulator is not None
            running[name] = serving.start(
                plugin.simulator(population, **options), host, port_base + offset if port_base else 0
            )
    except (OSError, RuntimeError) as exc:
        for server in running.values():
            server.stop()
        fail(f"cannot start the simulators: {exc}")
    base = public_url.rstrip("/") or f"http://{host}"
    for name, server in running.items():
        url = f"{base}:{server.port}"
        typer.echo(f"# {name}: {server.url}")
        sim_config = plugins[name].sim_config
        for key, value in (sim_config(url) if sim_config else {"url": url}).items():
            typer.echo(f"GERBANG_AGENCY_{name.upper()}_{key.upper()}={value}")
    typer.echo("# Ctrl-C stops the simulators.")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for server in running.values():
            server.stop()
