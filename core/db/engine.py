"""Engine and sessions from the database URL, and migrations applied through alembic.

SQLite (the embedded default) gets WAL and a busy timeout so the API and the in-process dispatcher can share the
file, and `synchronous=NORMAL`: in WAL mode a commit then survives the process dying (what the outbox and the audit
log need) without an fsync per transaction; only an OS crash or power loss can take the last commits. PostgreSQL
gets a pre-ping pool so a restarted server is survived; `gerbang worker` asks (`ping_idle_s`) to ping only
connections that sat idle in the pool for a while (under load it checks a connection out every few milliseconds,
and a ping each time was a round trip per micro-batch), and (`multirow_inserts`) for one multi-row INSERT instead
of a pipelined executemany (cheaper for both sides with the small batches it writes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlmodel import Session

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseUrlError(ValueError):
    """GERBANG_DATABASE_URL is not the URL of a database Gerbang can reach with the drivers it ships."""


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and use the psycopg 3 driver we ship; DatabaseUrlError if the URL does not
    parse or names a database whose driver is not installed (told here, not as a traceback from deep inside)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        make_url(url).get_dialect().import_dbapi()
    except (exc.ArgumentError, exc.NoSuchModuleError, ValueError, ImportError) as error:
        raise DatabaseUrlError(f"not a database URL Gerbang can use ({error})") from None
    return url


def describe_database(url: str) -> str:
    """Which database a URL names, for a message: the SQLite file's absolute path, or the URL without password.

    Why: "has `gerbang db upgrade` been run?" sent people to the wrong file when the CLI and a demo disagreed."""
    try:
        parsed = make_url(normalise_url(url))
    except DatabaseUrlError:
        return "the database GERBANG_DATABASE_URL names"
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ":memory:"
        return (
            "an in-memory SQLite database" if database == ":memory:" else f"the SQLite file {Path(database).resolve()}"
        )
    return f"the database {parsed.render_as_string(hide_password=True)}"


def _make_parent_folder(url: str) -> None:
    """An SQLite file's folder is made if missing (the default lives under GERBANG_DATA_DIR)."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # SQLite then says it cannot open the file, which names the problem


def make_engine(url: str, *, ping_idle_s: float | None = None, multirow_inserts: bool = False, **kwargs: Any) -> Engine:
    """An engine for `url`, tuned for SQLite or PostgreSQL. PostgreSQL only: `ping_idle_s` pings a connection at
    checkout only if it sat idle in the pool longer than that (default: at every checkout); `multirow_inserts`
    sends an INSERT of many rows as one statement."""
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        _make_parent_folder(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    if "poolclass" not in kwargs:
        kwargs.update(pool_size=10, max_overflow=20)
    engine = create_engine(url, pool_pre_ping=ping_idle_s is None, **kwargs)
    if multirow_inserts:  # SQLAlchemy's "insertmanyvalues" also without RETURNING (as its psycopg2 dialect does)
        engine.dialect.use_insertmanyvalues_wo_returning = True
    if ping_idle_s is not None:
        _ping_when_idle(engine, ping_idle_s)
    return engine


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Ping at checkout a connection idle for more than `idle_s`: one that went through a server restart is
    replaced before use (the pool retries with a new connection). A connection used moments ago is not pinged;
    if the server went away since, the statement fails, SQLAlchemy drops the whole pool, and the caller's
    transaction fails as any transaction cut by a restart does."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["gerbang_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("gerbang_idle_since")
        if since is None or time.monotonic() - since <= idle_s:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(f"connection lost while idle ({type(error).__name__})") from error
        if not alive:
            raise exc.DisconnectionError("connection lost while idle")


Sessions = Callable[[], Session]
"""What opens a new Session: the bus's steps and loops take one rather than a Session, to open a short
transaction of their own on whichever thread runs them."""


def session_factory(engine: Engine) -> Sessions:
    """A callable opening a new Session; objects stay usable after commit."""
    return lambda: Session(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at the packaged migrations, no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (idempotent)."""
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
