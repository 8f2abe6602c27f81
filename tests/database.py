"""Throw-away databases for the tests and the benches.

`scratch_schema`: a PostgreSQL schema of its own on a shared server (each run, test or service under test in its own
`search_path`, dropped afterwards), migrated through alembic unless asked not to; the benches and the tests of the
migrate step itself use it.

`migrated_database` and `migrated_sqlite`: what most tests need, an empty database at the head revision, copied
from a template migrated once per session. Why: running every migration for each of the ~600 database tests took
0.2 s on SQLite and 0.5–1 s on PostgreSQL; a copy takes ~1 ms (a file) and 0.1–0.4 s (`CREATE DATABASE …
TEMPLATE`), which a background thread spends while the previous test runs (it keeps two copies ready and drops
the used ones).
Each template is rebuilt by the session that uses it (the migrations change between runs) under a name of its own,
so concurrent pytest runs on one server never share one, and `drop_templates` removes it at the session's end.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from core.db import upgrade
from core.db.engine import normalise_url


@contextmanager
def scratch_schema(base_url: str, *, prefix: str = "t_", migrate: bool = True) -> Iterator[str]:
    """The URL of a new schema on `base_url`'s database (its `search_path` in the URL), migrated unless
    `migrate=False` (a test of the migrate step itself), dropped with everything in it when the block ends."""
    schema = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base_url else "?"
    url = f"{base_url}{separator}options=-csearch_path%3D{schema}"
    try:
        if migrate:
            upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


_admins: dict[str, Engine] = {}
"""Base URL → an AUTOCOMMIT engine on its server, for CREATE and DROP DATABASE."""
_templates: dict[str, str] = {}
"""Base URL → this session's migrated template database on that server."""
_sqlite_template: list[Path] = []
"""This session's migrated SQLite file, once made."""
_background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-databases")
"""Copies the template ahead of the tests and drops a test's database while the next test runs; `drop_templates`
waits for it."""
_pending: list[Future[None]] = []
"""Drops under way."""
_spares: dict[str, list[Future[str]]] = {}
"""Base URL → copies of its template made (or being made) ahead, oldest first."""
SPARES = 2


def _admin(base_url: str) -> Engine:
    if base_url not in _admins:
        _admins[base_url] = create_engine(normalise_url(base_url), isolation_level="AUTOCOMMIT")
    return _admins[base_url]


def _with_database(base_url: str, name: str) -> str:
    """`base_url` naming database `name` instead (same server, user and query)."""
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def _execute(base_url: str, statement: str) -> None:
    with _admin(base_url).connect() as connection:
        connection.execute(text(statement))


def _template(base_url: str) -> str:
    """This session's template on `base_url`'s server: made and migrated on first use."""
    if base_url not in _templates:
        name = f"gerbang_tpl_{uuid.uuid4().hex[:12]}"
        _execute(base_url, f'CREATE DATABASE "{name}"')
        _templates[base_url] = name  # recorded before migrating, so a failed migration's database is dropped too
        upgrade(_with_database(base_url, name))
    return _templates[base_url]


@contextmanager
def migrated_database(base_url: str) -> Iterator[str]:
    """The URL of a new PostgreSQL database on `base_url`'s server, at the head revision (a copy of this session's
    template), dropped when the block ends."""
    template = _template(base_url)
    spares = _spares.setdefault(base_url, [])
    while len(spares) <= SPARES:
        spares.append(_background.submit(_copy, base_url, template))
    name = spares.pop(0).result()
    try:
        yield _with_database(base_url, name)
    finally:
        _pending.append(_background.submit(_execute, base_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


def _copy(base_url: str, template: str) -> str:
    """A new database copied from `template`: its name."""
    name = f"gerbang_t_{uuid.uuid4().hex[:12]}"
    _execute(base_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY WAL_LOG')
    return name


def migrated_sqlite(path: Path) -> str:
    """The URL of a new SQLite file at `path`, at the head revision (a copy of this session's template)."""
    if not _sqlite_template:
        template = Path(tempfile.mkdtemp(prefix="gerbang-template-")) / "template.db"
        upgrade(f"sqlite:///{template.as_posix()}")
        with sqlite3.connect(template) as connection:  # everything in the file itself, nothing left in a WAL file
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
        _sqlite_template.append(template)
    shutil.copyfile(_sqlite_template[0], path)
    return f"sqlite:///{path.as_posix()}"


def drop_templates() -> None:
    """At the session's end: wait for the pending drops, drop the unused copies and the templates, and remove the
    SQLite one."""
    for pending in _pending:
        pending.result()
    _pending.clear()
    for base_url, spares in _spares.items():
        for spare in spares:
            _execute(base_url, f'DROP DATABASE IF EXISTS "{spare.result()}" WITH (FORCE)')
    _spares.clear()
    for base_url, name in _templates.items():
        _execute(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _templates.clear()
    for engine in _admins.values():
        engine.dispose()
    _admins.clear()
    for template in _sqlite_template:
        shutil.rmtree(template.parent, ignore_errors=True)
    _sqlite_template.clear()
