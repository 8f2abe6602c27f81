"""GET /metrics: agency call latency and outcomes from the breaker wrapper, breakers, and the scrape-time gauges
(outbox lag, applications retrying and dead-lettered, audit log size and checkpoint age)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from connectors.base import AgencyError, AgencyRejected, AgencyTimeout
from connectors.breaker import BreakerConnector, CircuitBreaker
from core.bus.models import Application, Outbox
from tests.core.api.test_record import ALIVE
from tests.core.bus.helpers import FAST, SUPPLY, submit, wait_status
from core.api.state import app_state


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def counter(add_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    key = add_client("counter", ["citizen:read:*", "application:submit:*", "application:read"], ["identity_check"])
    return {"Authorization": f"Bearer {key}"}


def test_agency_calls_are_timed_and_counted(make_api, counter) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    before = api.get("/metrics").text
    response = api.get(f"/v1/citizens/{ALIVE[0].nik}", headers=counter,
                       params={"purpose": "identity_check", "refresh": "true"})
    assert response.status_code == 200, response.text
    metrics = api.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    after = metrics.text
    key = {"agency": "dukcapil", "operation": "lookup"}
    assert value(after, "gerbang_agency_calls_total", outcome="ok", **key) == \
        value(before, "gerbang_agency_calls_total", outcome="ok", **key) + 1
    assert value(after, "gerbang_agency_call_seconds_count", **key) == \
        value(before, "gerbang_agency_call_seconds_count", **key) + 1
    assert value(after, "gerbang_breaker_state", agency="dukcapil", state="closed") == 1
    assert ALIVE[0].nik not in after


def test_breaker_wrapper_reports_every_outcome() -> None:
    seen: list[tuple[str, str, float]] = []

    class Inner:
        name = "x"
        def __init__(self) -> None:
            self.answers: list[BaseException | None] = [None, AgencyRejected("x", "no"), AgencyTimeout("x", "slow"),
                                                        RuntimeError("bug")]

        async def lookup(self, nik: str) -> str:
            answer = self.answers.pop(0)
            if answer is not None:
                raise answer
            return "ok"

    wrapped = BreakerConnector(Inner(), CircuitBreaker("x", threshold=2), lambda *a: seen.append(a))  # type: ignore[arg-type]

    async def run() -> None:
        for _ in range(5):
            with contextlib.suppress(AgencyError, RuntimeError):
                await wrapped.lookup("1")

    asyncio.run(run())
    assert [(op, outcome) for op, outcome, _ in seen] == [
        ("lookup", "ok"), ("lookup", "refused"), ("lookup", "failed"), ("lookup", "error"),
        ("lookup", "circuit_open")]
    assert all(seconds >= 0 for *_, seconds in seen)


def test_scrape_time_gauges(make_api, counter, sessions) -> None:  # type: ignore[no-untyped-def]
    api = make_api(**FAST)
    first = api.get("/metrics").text
    assert value(first, "gerbang_database_up") == 1
    assert value(first, "gerbang_outbox_lag_seconds") == 0
    assert value(first, "gerbang_applications_dead_lettered") == 0
    view = submit(api, counter, SUPPLY.repeatable("oss"))
    wait_status(api, counter, view["id"], {"submitted"})
    api.portal.call(app_state(api.app).dispatcher.stop)  # nothing else touches the rows from here on
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=120)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    with sessions() as session:  # an outbox row stuck for two minutes, the application waiting for a retry
        session.exec(update(Outbox).values(sent_at=None, created_at=old))
        session.exec(update(Application).values(status="queued", attempts=2, next_attempt_at=later))
        session.commit()
    text = api.get("/metrics").text
    assert 115 <= value(text, "gerbang_outbox_lag_seconds") < 600
    assert value(text, "gerbang_outbox_unsent") == 1
    assert value(text, "gerbang_applications_retrying") == 1
    assert value(text, "gerbang_applications", status="queued") == 1
    with sessions() as session:
        session.exec(update(Application).values(status="failed"))
        session.commit()
    text = api.get("/metrics").text
    assert value(text, "gerbang_applications_dead_lettered") == 1
    assert value(text, "gerbang_applications_retrying") == 0
    app_state(api.app).audit.run(force_checkpoint=True)
    text = api.get("/metrics").text
    assert value(text, "gerbang_audit_log_entries") >= 1
    assert value(text, "gerbang_audit_checkpoint_entries") >= 1
    assert 0 <= value(text, "gerbang_audit_checkpoint_age_seconds") < 60
    assert "gerbang_queue_messages" not in text  # embedded mode: no broker
