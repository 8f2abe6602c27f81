"""`gerbang db …`: schema migrations."""

from __future__ import annotations

import typer

from core.cli.common import fail
from core.settings import get_settings

app = typer.Typer(help="Database schema: migrations through alembic.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Apply migrations up to REVISION (default: the newest). Safe to run repeatedly."""
    from sqlalchemy.exc import SQLAlchemyError

    from core.db.engine import current_revision, upgrade

    url = get_settings().database_url
    try:
        upgrade(url, revision)
        typer.echo(f"database at revision {current_revision(url)}")
    except SQLAlchemyError as exc:
        fail(f"cannot migrate the database: {type(exc).__name__}: {exc.args[0] if exc.args else ''}")


@app.command("current")
def current_command() -> None:
    """Print the revision the database is at."""
    from sqlalchemy.exc import SQLAlchemyError

    from core.db.engine import current_revision

    try:
        typer.echo(current_revision(get_settings().database_url) or "empty (run `gerbang db upgrade`)")
    except SQLAlchemyError as exc:
        fail(f"cannot read the database: {type(exc).__name__}")
