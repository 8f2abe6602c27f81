"""Many rows into one table at driver speed, inside the caller's transaction.

Why: SQLAlchemy's per-row parameter processing, and on PostgreSQL the parsing of a multi-row INSERT whose shape
changes with the row count (psycopg does not prepare statements of more than 50 parameters), cost more than
the rows themselves on the hot paths (audit entries, status history, callback events). On PostgreSQL a few rows
go as one pipelined executemany of a prepared single-row INSERT, more as one binary COPY; on SQLite a plain
executemany (values must then be what sqlite3 stores as is: no datetimes, which SQLAlchemy formats itself).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Sized
from typing import Any

from sqlalchemy import Connection

COPY_FROM = 16  # rows from which COPY beats a pipelined executemany on PostgreSQL


def driver_connection(conn: Connection) -> Any:
    """The driver's own connection under `conn` (psycopg's or sqlite3's): COPY and pipelines are its methods."""
    raw = conn.connection.driver_connection
    assert raw is not None, "a connection in use has its driver connection"
    return raw


def bulk_insert(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    pg_types: Sequence[str],
    count: int | None = None,
) -> None:
    """Insert `rows` (a sequence, or an iterator of `count`) of `columns` into `table`. `pg_types` are the
    PostgreSQL type names of the columns (binary COPY sends each value in that type's wire format)."""
    if count is None:
        assert isinstance(rows, Sized), "an iterator of rows comes with its count"
        count = len(rows)
    if not count:
        return
    raw = driver_connection(conn)
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur:
            if count < COPY_FROM:
                sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
                if count == 1:  # one plain statement, no pipeline (rows may be a generator: run it out)
                    (row,) = list(rows)
                    cur.execute(sql, row)
                else:
                    cur.executemany(sql, rows)
                return
            with cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(list(pg_types))  # binary: half the server's parsing, no bytea hex
                for row in rows:
                    copy.write_row(row)
        return
    cur = raw.cursor()
    try:
        cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)
    finally:
        cur.close()
