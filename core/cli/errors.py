"""The last word on an error no command caught: one line on stderr and a non-zero exit, never a traceback.

Why: a setting that does not parse, a database that is missing or not migrated, a URL that is not one, a file
that cannot be read — these are the operator's to fix, and each command handling each of them on its own had
left many to Python's traceback. Commands still say more where they know more (`fail()` in common.py). With
GERBANG_DEBUG=1 the traceback is shown as well.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError

if TYPE_CHECKING:
    from core.settings import Settings

USAGE, FAILED = 2, 1


def say(message: str) -> None:
    """`error: message` on stderr, in red: how every command and the last resort below tell an error."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)


def _first_line(value: object) -> str:
    text = str(value).strip().splitlines()
    return text[0][:300] if text else type(value).__name__


def database_named(settings: Settings | None = None) -> str:
    """The database `settings` (else the environment's) name, an SQLite file by its absolute path, or a neutral
    phrase if the settings do not load."""
    from core.db.engine import describe_database
    from core.settings import get_settings

    try:
        return describe_database((settings or get_settings()).database_url)
    except Exception:  # noqa: BLE001 - a message about a message; the settings error is told elsewhere
        return "the configured database"


def describe(exc: BaseException) -> tuple[str, int]:
    """(message, exit code) for an exception no command handled."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from core.db.engine import DatabaseUrlError

    if isinstance(exc, ValidationError):
        problems = [f"GERBANG_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()]
        return "a setting is not valid: " + "; ".join(problems), USAGE
    if isinstance(exc, DatabaseUrlError):
        return f"GERBANG_DATABASE_URL: {_first_line(exc)}", USAGE
    if isinstance(exc, SQLAlchemyError):
        cause = getattr(exc, "orig", None) or exc
        return (
            f"database error ({type(cause).__name__}: {_first_line(cause)}) on {database_named()}; is it "
            "reachable, and has `gerbang db upgrade` been run on it?"
        ), FAILED
    if isinstance(exc, CommandError):
        return _first_line(exc), USAGE
    if isinstance(exc, UnicodeError):
        return "an argument or setting is not valid UTF-8 text", USAGE
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to read", USAGE
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        return f"{exc.strerror or _first_line(exc)}{where}", FAILED
    return f"unexpected {type(exc).__name__}: {_first_line(exc)} (GERBANG_DEBUG=1 shows the traceback)", FAILED


def guarded(app: Callable[[], object]) -> None:
    """Run the CLI; an exception that escapes every command becomes one line and an exit code."""
    try:
        app()
    except (KeyboardInterrupt, SystemExit, typer.Exit):
        raise
    except Exception as exc:  # noqa: BLE001 - the last resort by design
        if os.environ.get("GERBANG_DEBUG"):
            traceback.print_exc()
        message, code = describe(exc)
        say(message)
        sys.exit(code)
