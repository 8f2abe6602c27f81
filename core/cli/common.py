"""Helpers shared by the CLI commands: settings, sessions, and failing with a message instead of a traceback."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn

import typer

from core.cli.errors import database_named, say
from core.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlmodel import Session


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: message` to stderr and exit non-zero."""
    say(message)
    raise typer.Exit(code)


def database_failed(exc: Exception, settings: Settings | None = None) -> NoReturn:
    """Fail on a database error, naming the database (file) that was looked at."""
    fail(
        f"database error ({type(exc).__name__}) on {database_named(settings)}; has `gerbang db upgrade` been run on it?"
    )


@contextmanager
def session(settings: Settings | None = None) -> Iterator[Session]:
    """A database session on the configured database (engine disposed afterwards)."""
    from core.db import make_engine, session_factory

    engine = make_engine((settings or get_settings()).database_url)
    try:
        with session_factory(engine)() as s:
            yield s
    finally:
        engine.dispose()


@contextmanager
def atomic_file(path: Path) -> Iterator[IO[str]]:
    """A file that appears at `path` whole or not at all: written beside it under a temporary name and renamed
    into place when the block ends without error, so a Ctrl-C or a full disk leaves no truncated file (and an
    earlier file at `path` stays as it was). Opening it first also tells an unwritable path before any work."""
    if path.is_dir():
        fail(f"cannot write {path}: it is a directory")
    try:
        handle = tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", suffix=".partial", delete=False
        )
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")
    try:
        with handle:
            yield handle
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise
