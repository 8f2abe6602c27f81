"""The database engine of `gerbang worker`: idle connections pinged (not every checkout), multi-row inserts."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, event, insert, text
from sqlalchemy.exc import DBAPIError

from core.bus.runtime import PING_IDLE_S
from core.db import make_engine
from tests.conftest import POSTGRES_URL, postgres_database

needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="GERBANG_TEST_DATABASE_URL not set")


def _terminate(url: str, pid: int) -> None:
    """End one server process, as a server restart ends them all."""
    admin = make_engine(url)
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()
    time.sleep(0.1)


@needs_postgres
@pytest.mark.parametrize("idle_s, replaced", [(0.0, True), (3600.0, False)])
def test_a_connection_idle_longer_than_the_limit_is_pinged_and_replaced(idle_s: float, replaced: bool) -> None:
    with postgres_database() as url:
        engine = make_engine(url, ping_idle_s=idle_s)
        try:
            with engine.connect() as connection:
                pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
            _terminate(url, pid)
            if replaced:  # idle past the limit: pinged at checkout, found dead, replaced before use
                with engine.connect() as connection:
                    assert connection.execute(text("SELECT pg_backend_pid()")).scalar() != pid
            else:  # used moments ago (within the limit): not pinged, so the statement meets the dead connection
                with pytest.raises(DBAPIError), engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
        finally:
            engine.dispose()


@needs_postgres
def test_no_ping_for_a_connection_used_moments_ago_and_one_statement_for_many_rows() -> None:
    with postgres_database() as url:
        engine = make_engine(url, ping_idle_s=PING_IDLE_S, multirow_inserts=True)
        statements: list[tuple[str, bool]] = []
        event.listen(engine, "before_cursor_execute",
                     lambda _c, _cur, statement, _p, _ctx, many: statements.append((statement, many)))
        pings: list[object] = []
        ping = engine.dialect.do_ping
        engine.dialect.do_ping = lambda dbapi_connection: pings.append(dbapi_connection) or ping(  # type: ignore
            dbapi_connection)
        table = Table("probe", MetaData(), Column("n", Integer))
        try:
            with engine.begin() as connection:
                table.create(connection)
            statements.clear()
            with engine.begin() as connection:
                connection.execute(insert(table), [{"n": n} for n in range(5)])
            with engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM probe")).scalar() == 5
        finally:
            engine.dispose()
        assert pings == []  # checked out again at once: no round trip for a ping
        # the five rows went as one statement of five rows, not as a statement run five times (executemany)
        insert_statement = statements[0][0]
        assert len(statements) == 2 and insert_statement.startswith("INSERT INTO probe")
        assert insert_statement.count("), (") == 4, insert_statement
