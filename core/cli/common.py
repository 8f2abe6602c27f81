"""Helpers shared by the CLI commands: settings, sessions, and failing with a message instead of a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from sqlmodel import Session

from core.db import make_engine, session_factory
from core.settings import Settings, get_settings


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: message` to stderr and exit non-zero."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


@contextmanager
def session(settings: Settings | None = None) -> Iterator[Session]:
    """A database session on the configured database (engine disposed afterwards)."""
    engine = make_engine((settings or get_settings()).database_url)
    try:
        with session_factory(engine)() as s:
            yield s
    finally:
        engine.dispose()
