"""`gerbang clients …`: register API clients and print their key once."""

from __future__ import annotations

import json

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from core.cli.common import fail, session
from core.db.models import Client
from core.security.clients import ClientExists, create_client

app = typer.Typer(help="API clients (counter apps, auditors, agencies, operators) and their keys.",
                  no_args_is_help=True)


def split(values: list[str]) -> list[str]:
    """Accept `--scopes a,b --scopes c` alike."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Unique client name, e.g. mpp-depok-counter-3"),
    scopes: list[str] = typer.Option([], "--scopes", "-s", help="Scopes, comma-separated or repeated"),
    purposes: list[str] = typer.Option([], "--purposes", "-p", help="Allowed purposes, comma-separated"),
) -> None:
    """Register a client and print its new API key (shown only this once)."""
    from identity.purposes import load_purposes

    wanted = split(purposes)
    unknown = [p for p in wanted if p not in load_purposes() and p != "*"]
    if unknown:
        fail(f"unknown purpose(s): {', '.join(unknown)}; known: {', '.join(sorted(load_purposes()))}")
    try:
        with session() as s:
            client, key = create_client(s, name, split(scopes), wanted)
    except (ClientExists, ValueError) as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(f"database error ({type(exc).__name__}); has `gerbang db upgrade` been run?")
    typer.echo(json.dumps({"client": client.name, "scopes": client.scopes, "purposes": client.purposes,
                           "api_key": key}))
    typer.secho("Store the key now: it is not shown again.", err=True, fg=typer.colors.YELLOW)


@app.command("list")
def list_clients() -> None:
    """List clients (never their keys) as JSON lines."""
    try:
        with session() as s:
            for client in s.exec(select(Client).order_by(Client.name)):
                typer.echo(json.dumps({"client": client.name, "scopes": client.scopes, "purposes": client.purposes,
                                       "disabled": client.disabled}))
    except SQLAlchemyError as exc:
        fail(f"database error ({type(exc).__name__}); has `gerbang db upgrade` been run?")
