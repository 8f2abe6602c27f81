"""The `gerbang` command.

Each command imports what it needs when it runs (here and in the sub-apps' modules): `gerbang --help`, a usage
error or a one-table command then does not first load the web server, the ORM, alembic and the audit log.
"""

from __future__ import annotations

import threading

import typer

from core.cli import applications, audit, bus, clients, connectors, db, keys, nik, report, simulate
from core.cli.errors import guarded
from core.cli.worker import worker
from core.settings import get_settings

app = typer.Typer(
    name="gerbang",
    help="Gerbang: integration bus for Indonesia's public service malls.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(nik.app, name="nik")
app.add_typer(db.app, name="db")
app.add_typer(clients.app, name="clients")
app.add_typer(simulate.app, name="simulate")
app.add_typer(keys.app, name="keys")
app.add_typer(audit.app, name="audit")
app.add_typer(bus.app, name="bus")
app.add_typer(applications.app, name="applications")
app.add_typer(report.app, name="report")
app.add_typer(connectors.app, name="connectors")
app.command("worker")(worker)


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
    port: int = typer.Option(8000, min=0, max=65535, help="Port"),
) -> None:
    """Run the API (distributed deployments: many of these behind a load balancer)."""
    import uvicorn

    from core.api.app import create_app
    from core.api.http_guard import server_options
    from core.cli.server import PatientServer
    from core.logs import setup as setup_logging

    settings = get_settings()
    setup_logging(settings.log_level, settings.log_format)
    config = uvicorn.Config(
        create_app(settings), host=host, port=port, access_log=False, log_level="info", **server_options(settings)
    )
    try:
        PatientServer(config).run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled; stopping is the expected outcome
        pass


@app.command("demo")
def demo(
    port: int = typer.Option(
        8000, min=0, max=65535, help="API port; simulators take the next ports (0: any free ports)"
    ),
    seed: int = typer.Option(2024, help="Seed of the synthetic population"),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (loopback by default)"),
) -> None:
    """Start the API with every simulator on loopback, an SQLite database and a demo client."""
    import uvicorn

    from connectors.simkit.serving import bind
    from core import demo as demo_module
    from core.api.app import create_app
    from core.api.http_guard import server_options
    from core.cli.common import fail
    from core.cli.server import PatientServer
    from core.logs import setup as setup_logging

    settings = get_settings()
    setup_logging(settings.log_level, settings.log_format)
    try:
        sock = bind(host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port} ({exc.strerror}); choose another with --port")
    try:
        running = demo_module.prepare(settings, seed=seed, host=host, port=port)
    except (OSError, ValueError, RuntimeError) as exc:
        sock.close()
        fail(f"cannot start the demo: {exc}")
    try:
        config = uvicorn.Config(
            create_app(running.settings), access_log=False, log_level="warning", **server_options(running.settings)
        )
        server = PatientServer(config)
        port = sock.getsockname()[1]
        probe = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"

        def announce() -> None:  # the banner only once the API and every simulator answer
            if demo_module.wait_until_up(running, lambda: server.started, lambda: server.should_exit, probe):
                typer.echo(demo_module.banner(running, f"http://{host}:{port}"))

        threading.Thread(target=announce, name="demo-banner", daemon=True).start()
        server.run(sockets=[sock])
        if not server.started:
            fail("the API did not start (the reason is above)", code=1)
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled; stopping is the expected outcome
        pass
    finally:
        running.stop()
        sock.close()
        typer.echo("Gerbang demo stopped.")


def main() -> None:
    """The `gerbang` entry point: the app, with any error no command caught told in one line (core/cli/errors.py)."""
    guarded(app)


if __name__ == "__main__":
    main()
