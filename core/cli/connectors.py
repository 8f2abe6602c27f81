"""`gerbang connectors …`: the integration engineer's kit — list installed connectors, scaffold a new one, and run
the contract kit (connectors/contract) against a connector's own simulator."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Agency connectors: list, scaffold (new) and check against the contract kit.", no_args_is_help=True
)


@app.command("list")
def list_connectors() -> None:
    """Print every connector found through the `gerbang.connectors` entry points."""
    from connectors.registry import discover

    for name, plugin in discover().items():
        services = ", ".join(plugin.services) or "-"
        typer.echo(f"{name:<22} {plugin.protocol:<5} facet={plugin.facet:<22} services={services}")


@app.command()
def check(
    name: str = typer.Argument(..., help="A connector name (see `gerbang connectors list`)."),
    seed: int = typer.Option(2024, help="Seed of the simulator's synthetic population."),
    size: int = typer.Option(200, min=10, max=100_000, help="Population size."),
) -> None:
    """Run the contract kit against NAME's own simulator on loopback and print a table; exit 1 if a check fails."""
    from connectors.contract import check_connector, failures, table
    from connectors.registry import discover
    from connectors.simkit.population import Population
    from core.cli.common import fail

    plugins = discover()
    plugin = plugins.get(name)
    if plugin is None:
        fail(f"no connector named {name!r}; installed: {', '.join(plugins) or 'none'}")
    if plugin.simulator is None:
        fail(f"connector {name!r} has no simulator to check against")
    try:
        checks = check_connector(plugin, Population(seed=seed, size=size))
    except (OSError, RuntimeError, ValueError) as exc:
        fail(f"cannot run {name}'s simulator: {exc}")
    typer.echo(table(checks))
    failed = failures(checks)
    typer.echo(f"\n{name}: {len(checks) - len(failed)}/{len(checks)} checks passed")
    if failed:
        raise typer.Exit(1)


@app.command()
def new(
    name: str = typer.Argument(..., help="Connector name: lower-case letters, digits, underscores."),
    rest: bool = typer.Option(False, "--rest", help="A REST/JSON connector."),
    soap: Path | None = typer.Option(None, "--soap", help="A SOAP connector built from this WSDL file."),
    directory: Path = typer.Option(Path("."), "--dir", help="Where to create the gerbang-NAME folder."),
    title: str | None = typer.Option(None, help="The agency's name as people know it."),
) -> None:
    """Scaffold gerbang-NAME/: a connector package (client, simulator, facet, mapping, contract tests)."""
    from connectors.registry import discover
    from connectors.scaffold import ScaffoldError, scaffold
    from core.cli.common import fail

    if rest == (soap is not None):
        fail("choose exactly one of --rest or --soap path/to/service.wsdl")
    try:
        target = scaffold(name, directory, wsdl=soap, title=title, taken=set(discover()))
    except ScaffoldError as exc:
        fail(str(exc))
    typer.echo(f"Created {target}")
    for path in sorted(p for p in target.rglob("*") if p.is_file()):
        typer.echo(f"  {path.relative_to(target)}")
    typer.echo(
        f"\nNext: cd {target} && pytest   (the contract kit against the simulator)\n"
        f"      pip install {target}   then   gerbang connectors check {name}"
    )
