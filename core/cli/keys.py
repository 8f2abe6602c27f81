"""`gerbang keys …`: the bus's own secrets (NIK hash key, data-at-rest keys)."""

from __future__ import annotations

import typer

from core.security.secrets import new_secret_values

app = typer.Typer(help="The bus's secrets: NIK hash key and data-at-rest encryption keys.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """The bus's secrets."""


@app.command("generate")
def generate() -> None:
    """Print fresh GERBANG_NIK_HASH_KEY and GERBANG_DATA_KEYS lines for a distributed deployment's environment."""
    for name, value in new_secret_values().items():
        typer.echo(f"GERBANG_{name.upper()}={value}")
