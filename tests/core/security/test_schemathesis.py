"""Schemathesis against the API's own OpenAPI document, served over HTTP with every simulator behind it: for every
operation, a bounded number of generated requests (valid and not), sent with a key holding every scope and the
counter context. No answer may be a 5xx, and every answer — errors included — must have a documented status,
content type, schema and headers.

Bounded on purpose (GERBANG_SCHEMATHESIS_EXAMPLES, default 20 per operation): it runs in CI with the suite. Against
a running server the same check is `st run` (README, Development).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from connectors.registry import discover  # noqa: E402
from connectors.simkit import serving  # noqa: E402
from core.api.app import create_app  # noqa: E402
from core.demo import agency_environment  # noqa: E402
from core.security.scopes import KNOWN_ROOTS  # noqa: E402
from core.settings import Settings  # noqa: E402
from tests.conftest import BUS_SECRETS, EVERY_SCOPE, sqlite_with_client  # noqa: E402
from tests.core.conftest import COUNTER_CONTEXT, GENEROUS_LIMITS  # noqa: E402

EXAMPLES = int(os.environ.get("GERBANG_SCHEMATHESIS_EXAMPLES", "20"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
assert {s.rsplit(":", 1)[0] if s.endswith(":*") else s for s in EVERY_SCOPE} == set(KNOWN_ROOTS)


@pytest.fixture(scope="module")
def server(simulators: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The API over HTTP on a fresh database; yields (base URL, API key)."""
    work = tmp_path_factory.mktemp("schemathesis")
    url, key = sqlite_with_client(work, "schemathesis")
    settings_ = Settings(database_url=url, data_dir=Path(work), agency_env=agency_environment(discover(), simulators),
                         agency_timeout_s=2.0, lookup_budget_s=4.0, **BUS_SECRETS, **GENEROUS_LIMITS)
    running = serving.start(create_app(settings_))
    try:
        yield running.url, key
    finally:
        running.stop()


def test_api_conforms(server: tuple[str, str]) -> None:
    """Each operation in turn (schemathesis' own pytest integration predates this pytest); all failures at once."""
    base, key = server
    spec = schemathesis.openapi.from_url(f"{base}/openapi.json")
    headers = {**COUNTER_CONTEXT, "Authorization": f"Bearer {key}"}
    failures: dict[str, str] = {}
    operations = 0
    for result in spec.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def check(case: Any) -> None:
            case.call_and_validate(base_url=base, headers={**headers, **(case.headers or {})}, timeout=15,
                                   checks=CHECKS)

        try:
            check()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001  (failed checks come as exception groups)
            failures[operation.label] = "; ".join(str(e)[:500] for e in getattr(exc, "exceptions", [exc]))
    assert operations >= 20
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
