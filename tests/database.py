"""A throw-away PostgreSQL schema, for the tests and the benches that need a database of their own on a shared
server (each run, test or service under test in its own `search_path`, dropped afterwards)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

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
