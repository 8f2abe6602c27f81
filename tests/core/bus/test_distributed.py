"""Distributed mode for real: PostgreSQL, RabbitMQ (quorum queues, confirms, manual acks) and the simulators.

The faults the issue names — broker restarted mid-stream, agency down then back, agency slow, a worker process
killed mid-message, poison messages — each end with every application submitted (or failed for the right
reason) and the simulator having received each application's idempotency key exactly once; the one exception
is spelled out where it happens (a worker killed while its call was in flight at the agency). The last test runs
the scaled-out deployment: two `gerbang serve` and two `gerbang worker` processes, one of them killed mid-run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pika
from sqlalchemy import text

from core.bus.amqp import Topology
from core.bus.message import Message
from core.db import make_engine
from tests.core.bus.conftest import AMQP_URL, needs_bus, worker_environment
from tests.core.bus.processes import ROOT, wait_consumers, wait_http
from tests.core.conftest import COUNTER_CONTEXT
from tests.core.bus.helpers import SUPPLY, receipts, submit, wait_status, wait_until

pytestmark = needs_bus


def statuses(pg_url: str, ids: list[str]) -> dict[str, str]:
    engine = make_engine(pg_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, status FROM application WHERE id = ANY(:ids)"),
                                      {"ids": ids}).all()
    finally:
        engine.dispose()
    return {row[0]: row[1] for row in rows}


def wait_all(pg_url: str, ids: list[str], wanted: set[str], timeout_s: float = 60.0) -> dict[str, str]:
    last: dict[str, str] = {}

    def done() -> bool:
        nonlocal last
        last = statuses(pg_url, ids)
        return len(last) == len(ids) and all(s in wanted for s in last.values())

    try:
        wait_until(done, timeout_s, interval_s=0.2, what=f"{len(ids)} applications in {sorted(wanted)}")
    except AssertionError as exc:
        counts: dict[str, int] = {}
        for status in last.values():
            counts[status] = counts.get(status, 0) + 1
        raise AssertionError(f"{exc}: {counts}") from None
    return last


def queue_depth(name: str) -> int:
    assert AMQP_URL
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        return int(connection.channel().queue_declare(name, passive=True).method.message_count)
    finally:
        connection.close()


def unacked(topology: Topology) -> int:
    """Messages delivered and not yet acknowledged on this test's agency queues (rabbitmqctl)."""
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name", "messages_unacknowledged"],
                         capture_output=True, text=True, timeout=60).stdout
    return sum(int(parts[1]) for parts in (line.split() for line in out.splitlines())
               if len(parts) == 2 and parts[0].startswith(topology.submit_exchange + ".") and parts[1].isdigit())


def rabbitmqctl(command: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", command], check=True, capture_output=True, timeout=120)


def broker_up() -> bool:
    try:
        pika.BlockingConnection(pika.URLParameters(AMQP_URL or "")).close()
        return True
    except Exception:
        return False


def test_topology_setup_is_idempotent(bus_settings, topology) -> None:  # type: ignore[no-untyped-def]
    env = worker_environment(bus_settings())
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "core.cli.main", "bus", "setup"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    assert topology.queue("oss") in done.stdout and topology.dead_queue in done.stdout
    assert queue_depth(topology.queue("oss")) == 0
    listed = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name", "type", "arguments"], capture_output=True,
                            text=True, timeout=60).stdout
    line = next(line for line in listed.splitlines() if line.startswith(topology.queue("oss") + "\t"))
    assert "quorum" in line and "x-delivery-limit" in line and topology.dead_exchange in line


def test_stream_with_two_workers_each_key_once(bus_api, counter, start_worker, simulators,  # type: ignore
                                               pg_url) -> None:
    """Two workers relay (SKIP LOCKED) and consume side by side: no application is published or sent twice."""
    workers = [start_worker(), start_worker()]
    ids = [submit(bus_api, counter, SUPPLY.repeatable("oss" if i % 2 else "samsat"))["id"] for i in range(120)]
    wait_all(pg_url, ids, {"submitted"})
    got = {**receipts(simulators["oss"].url), **receipts(simulators["samsat"].url)}
    assert [got.get(i) for i in ids] == [1] * len(ids)
    assert sum(w.worker.counts["ack"] for w in workers) >= len(ids)
    assert all(w.worker.counts["ack"] > 0 for w in workers)   # both took part
    view = bus_api.get(f"/v1/applications/{ids[0]}", headers=counter).json()
    assert [s["status"] for s in view["history"]] == ["accepted", "queued", "submitting", "submitted"]


def test_broker_restarted_mid_stream(bus_api, counter, start_worker, simulators, pg_url) -> None:  # type: ignore
    worker = start_worker()
    ids: list[str] = []
    try:
        for i in range(150):
            ids.append(submit(bus_api, counter, SUPPLY.repeatable("oss"))["id"])
            if i == 50:
                rabbitmqctl("stop_app")
            if i == 100:
                rabbitmqctl("start_app")
            time.sleep(0.01)
    finally:
        if not broker_up():
            rabbitmqctl("start_app")
        wait_until(broker_up, 60, 0.5, "RabbitMQ back")
    wait_all(pg_url, ids, {"submitted"}, timeout_s=90)
    got = receipts(simulators["oss"].url)
    assert [got.get(i) for i in ids] == [1] * len(ids)
    assert worker.worker.consumer is not None and worker.worker.consumer.reconnects >= 1


def test_agency_down_then_back(bus_api, counter, start_worker, simulators, pg_url, set_fault,  # type: ignore
                               topology) -> None:
    """While the agency is down, applications wait in the database (next_attempt_at), not unacked in the
    broker; once it is back they are all submitted, each received once."""
    start_worker(submit_schedule_s=[0.5, 1.0])
    set_fault("samsat", "down")
    ids = [submit(bus_api, counter, SUPPLY.repeatable("samsat"))["id"] for _ in range(30)]
    wait_until(lambda: all(bus_api.get(f"/v1/applications/{i}", headers=counter).json()["attempts"] >= 2
                           for i in ids), 30, 0.2, "every application tried twice")
    views = [bus_api.get(f"/v1/applications/{i}", headers=counter).json() for i in ids]
    assert all(v["status"] in ("queued", "submitting") for v in views)
    assert unacked(topology) <= 30    # held by attempts in progress at most, never piling up
    set_fault("samsat", "ok")
    wait_all(pg_url, ids, {"submitted"}, timeout_s=30)
    got = receipts(simulators["samsat"].url)
    assert [got.get(i) for i in ids] == [1] * len(ids)
    # messages of the sweep's repeats may still be on their way to an acknowledgement (and the broker's counts
    # lag a little): none stays unacknowledged
    wait_until(lambda: unacked(topology) == 0, 15, 0.5, "no unacknowledged messages")
    detail = [s for s in views[0]["history"] if s["status"] == "queued" and (s["detail"] or "").startswith("retry")]
    assert detail, views[0]["history"]


def test_agency_slow(bus_api, counter, start_worker, simulators, pg_url, set_fault) -> None:  # type: ignore
    """A slow agency (slower per call than the whole stream may take one by one) is called concurrently up to
    the prefetch; nothing times out, nothing is redelivered or sent twice."""
    start_worker(bus_prefetch=20)
    set_fault("oss", "slow", delay_ms=400)
    started = time.monotonic()
    ids = [submit(bus_api, counter, SUPPLY.repeatable("oss"))["id"] for _ in range(40)]
    wait_all(pg_url, ids, {"submitted"}, timeout_s=40)
    elapsed = time.monotonic() - started
    assert elapsed < 40 * 0.4 / 2, f"{elapsed:.1f}s: calls were not concurrent"
    got = receipts(simulators["oss"].url)
    assert [got.get(i) for i in ids] == [1] * len(ids)


def test_worker_process_killed_mid_message(bus_api, counter, spawn_worker, simulators, pg_url,  # type: ignore
                                           set_fault) -> None:
    """`gerbang worker` SIGKILLed while calls are in flight at a slow agency; another worker takes over.

    Every application ends submitted. Messages the dead worker held but had not started are redelivered and sent
    once. The attempts it had in flight are found by their lease running out and sent again under the same key:
    the agency received those keys twice and answered with the same application (it deduplicates by key) —
    exactly-once receipt cannot be promised for a call the agency got but whose answer died with the process.
    No other key is received twice."""
    fast_lease = {"agency_timeout_s": 1.0, "submit_retry_attempts": 1, "bus_prefetch": 5}
    set_fault("oss", "slow", delay_ms=500)
    first = spawn_worker(**fast_lease)
    ids = [submit(bus_api, counter, SUPPLY.repeatable("oss"))["id"] for _ in range(40)]
    wait_until(lambda: list(statuses(pg_url, ids).values()).count("submitted") >= 5, 30, 0.05, "first submissions")
    wait_until(lambda: "submitting" in statuses(pg_url, ids).values(), 10, 0.01, "an attempt in flight")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    in_flight = {i for i, s in statuses(pg_url, ids).items() if s == "submitting"}
    assert in_flight, "the kill did not land mid-message"
    spawn_worker(**fast_lease)
    wait_all(pg_url, ids, {"submitted"}, timeout_s=60)
    got = receipts(simulators["oss"].url)
    twice = {i for i in ids if got.get(i, 0) > 1}
    assert all(got.get(i, 0) >= 1 for i in ids) and max(got[i] for i in ids) <= 2
    assert twice <= in_flight, (twice, in_flight)
    interrupted = [bus_api.get(f"/v1/applications/{i}", headers=counter).json() for i in in_flight]
    assert all(any("interrupted" in (s["detail"] or "") for s in v["history"]) for v in interrupted)


def test_poison_messages_are_dead_lettered_and_the_consumer_goes_on(bus_api, counter, start_worker,  # type: ignore
                                                                     simulators, pg_url, topology,
                                                                     bus_settings) -> None:
    limit = 3
    settings = bus_settings(bus_delivery_limit=limit)
    # an application whose stored ciphertext is damaged: every attempt crashes until the delivery limit
    broken = submit(bus_api, counter, SUPPLY.repeatable("oss"))["id"]
    engine = make_engine(pg_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE application SET payload = :junk WHERE id = :id"),
                           {"junk": os.urandom(64), "id": broken})
    engine.dispose()
    worker = start_worker(bus_delivery_limit=limit)
    wait_until(lambda: worker.worker.ready.is_set(), 30, 0.05, "worker ready")
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL or ""))
    channel = connection.channel()
    for body in (b"\x00 not json", Message(str(uuid.uuid4()), str(uuid.uuid4()), "oss").encode()):
        channel.basic_publish(topology.submit_exchange, "oss", body, pika.BasicProperties(delivery_mode=2))
    connection.close()
    wait_until(lambda: queue_depth(topology.dead_queue) == 3, 30, 0.2, "three dead letters")
    view = wait_status(bus_api, counter, broken, {"failed"})
    assert view["reason_code"] == "unprocessable" and "InvalidTag" in view["reason"]
    assert receipts(simulators["oss"].url).get(broken) is None
    assert worker.worker.counts["requeue"] == limit - 1 and worker.worker.counts["dead"] == 3
    fine = submit(bus_api, counter, SUPPLY.repeatable("oss"))["id"]
    assert wait_status(bus_api, counter, fine)["status"] == "submitted"
    assert settings.bus_delivery_limit == limit


def test_failed_is_dead_lettered_then_replayed_from_the_cli(make_bus_api, counter, start_worker,  # type: ignore
                                                             simulators, pg_url, topology, set_fault,
                                                             bus_settings) -> None:
    bus_api = make_bus_api(submit_deadline_s=1.0)   # the deadline is set when the API accepts
    start_worker()
    set_fault("oss", "down")
    app_id = submit(bus_api, counter, SUPPLY.repeatable("oss"))["id"]
    assert wait_status(bus_api, counter, app_id)["status"] == "failed"
    wait_until(lambda: queue_depth(topology.dead_queue) == 1, 10, 0.1, "the failed application dead-lettered")
    env = worker_environment(bus_settings())
    dead = subprocess.run([sys.executable, "-m", "core.cli.main", "applications", "dead"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert dead.returncode == 0 and app_id in dead.stdout, dead.stderr
    set_fault("oss", "ok")
    replayed = subprocess.run([sys.executable, "-m", "core.cli.main", "applications", "replay", app_id], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=60)
    assert replayed.returncode == 0, replayed.stderr
    assert wait_status(bus_api, counter, app_id)["status"] == "submitted"
    assert receipts(simulators["oss"].url)[app_id] == 1
    again = subprocess.run([sys.executable, "-m", "core.cli.main", "applications", "replay", app_id], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "only failed" in again.stderr


def test_two_apis_two_workers_one_killed_each_application_submitted_once(  # type: ignore[no-untyped-def]
        bus_settings, counter_key, processes, simulators, pg_url, set_fault, topology) -> None:
    """The scaled-out deployment for real: two `gerbang serve` and two `gerbang worker` processes on one
    PostgreSQL and one RabbitMQ. 200 applications are POSTed alternately to both APIs, each under its own
    Idempotency-Key; one worker is SIGKILLed while they are processed and calls are in flight.

    Every application ends submitted; every idempotency key made exactly one application (repeating some keys on
    the other API answers the same application); each key made exactly one agency application (one reference
    per application, none shared). The agencies received a key once per *attempt*: a second receipt is always a
    visible second attempt — one the killed worker had in flight (found `interrupted`), or, on a slow machine,
    a call that timed out and was retried — never a second dispatch of the same attempt."""
    count = 200
    settings = bus_settings(agency_timeout_s=1.0, submit_retry_attempts=1, bus_prefetch=10)
    set_fault("oss", "slow", delay_ms=150)
    set_fault("samsat", "slow", delay_ms=150)
    apis = [processes.api(settings, wait=False) for _ in range(2)]
    workers = [processes.worker(settings) for _ in range(2)]
    for process, url in apis:
        wait_http(f"{url}/healthz", process)
    wait_consumers(AMQP_URL or "", [topology.queue("oss"), topology.queue("samsat")], 2)
    known = set(receipts(simulators["oss"].url)) | set(receipts(simulators["samsat"].url))
    run = uuid.uuid4().hex[:8]
    keys = [f"dist-{run}-{i}" for i in range(count)]
    bodies = [SUPPLY.repeatable("oss" if i % 2 else "samsat") for i in range(count)]
    headers = {**COUNTER_CONTEXT, "Authorization": f"Bearer {counter_key}"}
    ids: dict[int, str] = {}

    def post(i: int, client: httpx.Client) -> None:
        answer = client.post(f"{apis[i % 2][1]}/v1/applications", json=bodies[i],
                             headers={**headers, "Idempotency-Key": keys[i]})
        assert answer.status_code == 202, answer.text
        ids[i] = answer.json()["id"]

    def drive(lane: int, lanes: int) -> None:
        with httpx.Client(timeout=30) as client:
            for i in range(lane, count, lanes):
                post(i, client)

    with ThreadPoolExecutor(8) as pool:
        load = [pool.submit(drive, lane, 8) for lane in range(8)]
        try:
            wait_until(lambda: list(statuses(pg_url, list(ids.values())).values()).count("submitted") >= 30,
                       60, 0.05, "the first submissions")
            wait_until(lambda: "submitting" in statuses(pg_url, list(ids.values())).values(), 10, 0.01,
                       "attempts in flight")
            workers[0].send_signal(signal.SIGKILL)
            assert workers[0].wait(10) == -signal.SIGKILL
            # the killed worker's attempts stay `submitting` until their lease runs out (with the survivor's)
            in_flight = {i for i, s in statuses(pg_url, list(ids.values())).items() if s == "submitting"}
        finally:
            for future in load:
                future.result()
    assert in_flight, "the kill did not land mid-run"
    assert list(statuses(pg_url, list(ids.values())).values()).count("submitted") < count
    app_ids = [ids[i] for i in range(count)]
    assert len(set(app_ids)) == count
    with httpx.Client(timeout=30) as client:   # the same keys again, on the other API: the same applications
        for i in range(0, count, 15):
            again = client.post(f"{apis[(i + 1) % 2][1]}/v1/applications", json=bodies[i],
                                headers={**headers, "Idempotency-Key": keys[i]})
            assert again.status_code == 202 and again.json()["id"] == ids[i], again.text
    try:
        wait_all(pg_url, app_ids, {"submitted"}, timeout_s=60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{processes.logs_tail()}") from None
    assert workers[1].poll() is None, "the surviving worker died"
    got = {**receipts(simulators["oss"].url), **receipts(simulators["samsat"].url)}
    assert set(got) - known == set(app_ids)    # no key the agencies got belongs to anything but these
    assert all(got[i] >= 1 for i in app_ids)
    engine = make_engine(pg_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, agency_reference, attempts FROM application "
                                           "WHERE id = ANY(:ids)"), {"ids": app_ids}).all()
            references, attempts = {r[0]: r[1] for r in rows}, {r[0]: r[2] for r in rows}
            interrupted = {row[0] for row in connection.execute(text(
                "SELECT DISTINCT application_id FROM application_transition WHERE application_id = ANY(:ids) "
                "AND detail LIKE '%interrupted%'"), {"ids": app_ids}).all()}
    finally:
        engine.dispose()
    assert interrupted and interrupted <= in_flight, (interrupted, in_flight)
    assert all(got[i] <= attempts[i] for i in app_ids), {i: (got[i], attempts[i]) for i in app_ids
                                                          if got[i] > attempts[i]}
    assert all(references[i] for i in app_ids) and len(set(references.values())) == count
