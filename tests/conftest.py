"""Shared fixtures: a migrated database on each configured backend, API clients with keys.

Every test that takes `database_url` runs against SQLite and, when GERBANG_TEST_DATABASE_URL points at
PostgreSQL (CI sets it), against PostgreSQL too — each test in a database of its own, copied from a template
migrated once per session (tests/database.py says why), dropped afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from core.audit.note import generate_signer
from core.db import make_engine, session_factory
from core.security.clients import create_client
from core.security.secrets import new_secret_values
from tests.database import drop_templates, migrated_database, migrated_sqlite

AUDIT_SIGNER_KEY, AUDIT_VERIFIER_KEY = generate_signer("gerbang.test/audit")
BUS_SECRETS = {**new_secret_values(), "signing_key": AUDIT_SIGNER_KEY}
"""NIK hash key, data keys and audit signing key shared by every app a test builds (a shared database needs them
set)."""

POSTGRES_URL = os.environ.get("GERBANG_TEST_DATABASE_URL")
EVERY_SCOPE = [
    "citizen:read:*",
    "citizen:verify",
    "application:submit:*",
    "application:read",
    "audit:read",
    "subjects:history",
    "callbacks:pull:*",
    "admin",
]
"""A scope of each kind, the wildcard where there is one: the client that may call every route."""


def backends() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    params.append(
        pytest.param(
            "postgres",
            id="postgres",
            marks=pytest.mark.skipif(not POSTGRES_URL, reason="GERBANG_TEST_DATABASE_URL not set"),
        )
    )
    return params


@pytest.fixture(params=backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database URL on the parametrised backend."""
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path / "gerbang.db")
        return
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session", autouse=True)
def database_templates() -> Iterator[None]:
    """The session's migrated templates (made on first use) are dropped when the session ends."""
    yield
    drop_templates()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A migrated PostgreSQL database of its own on the test server, dropped afterwards."""
    assert POSTGRES_URL
    with migrated_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test database, disposed afterwards."""
    made = make_engine(database_url)
    yield made
    made.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Callable[[], Session]:
    """A session factory on the test database."""
    return session_factory(engine)


def sqlite_with_client(work: Path, name: str, scopes: list[str] = EVERY_SCOPE) -> tuple[str, str]:
    """A migrated SQLite file in `work` with one client `name` holding `scopes` for every purpose: (URL, its API
    key). For module-scoped fixtures, which cannot take the per-test `database_url`."""
    url = migrated_sqlite(work / "api.db")
    engine = make_engine(url)
    with session_factory(engine)() as session:
        _, key = create_client(session, name, scopes, ["*"])
    engine.dispose()
    return url, key


@pytest.fixture
def add_client(sessions):  # type: ignore[no-untyped-def]
    """`add_client(name, scopes, purposes) -> api key` on the test database."""

    def add(name: str, scopes: list[str], purposes: list[str] | None = None) -> str:
        with sessions() as session:
            _, key = create_client(session, name, scopes, purposes or [])
        return key

    return add


@pytest.fixture(autouse=True)
def isolated_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test writes keys or databases into the working tree: the default data directory is a temporary one."""
    monkeypatch.setenv("GERBANG_DATA_DIR", str(tmp_path_factory.mktemp("data")))
