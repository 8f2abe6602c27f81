"""`gerbang applications …`: the operator's view of failed (dead-lettered) applications, and replay."""

from __future__ import annotations

import json

import typer

from core.cli.common import database_failed, fail, session
from core.settings import get_settings
from identity.clock import iso

app = typer.Typer(help="Applications: failed ones, replay.", no_args_is_help=True)


@app.command("dead")
def dead(
    agency: str = typer.Option("", help="Only this agency"),
    limit: int = typer.Option(100, min=1, max=10_000, help="At most this many"),
) -> None:
    """List failed applications (newest first), one JSON line each: id, agency, service, attempts, reason."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import col, select

    from core.bus.models import Application, Status

    query = select(Application).where(col(Application.status) == Status.failed.value)
    if agency:
        query = query.where(col(Application.agency) == agency)
    try:
        with session() as s:
            rows = s.exec(query.order_by(col(Application.updated_at).desc()).limit(limit)).all()
    except SQLAlchemyError as exc:
        database_failed(exc)
    for app_row in rows:
        typer.echo(
            json.dumps(
                {
                    "id": app_row.id,
                    "agency": app_row.agency,
                    "service": app_row.service,
                    "client": app_row.client_name,
                    "attempts": app_row.attempts,
                    "reason": app_row.reason,
                    "failed_at": iso(app_row.updated_at),
                    "created_at": iso(app_row.created_at),
                },
                ensure_ascii=False,
            )
        )


@app.command("replay")
def replay_command(
    application_id: str = typer.Argument(..., help="The application's id"),
    operator: str = typer.Option("cli", help="Who replays (written to the history and audit)"),
) -> None:
    """Send a failed application again: same idempotency key at the agency, a new deadline."""
    if not operator.strip() or len(operator) > 100 or not operator.isprintable():  # it goes into the signed log
        fail("--operator is a printable name of at most 100 characters")
    from sqlalchemy.exc import SQLAlchemyError

    from core.bus.service import NotReplayable, replay
    from core.bus.states import Policy

    settings = get_settings()
    try:
        with session(settings) as s:
            app_row = replay(s, application_id, Policy.from_settings(settings), operator=operator)
    except LookupError:
        fail(f"no application {application_id}")
    except NotReplayable as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        database_failed(exc)
    typer.echo(json.dumps({"id": app_row.id, "status": app_row.status, "deadline_at": iso(app_row.deadline_at)}))
