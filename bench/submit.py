"""Benchmark: applications end to end through the API, PostgreSQL, RabbitMQ, `gerbang worker` and the simulators.

Three figures from the same run, on the same broker:
- raw: pika publishing N persistent messages with publisher confirms to a durable quorum queue, the plain way
  (BlockingConnection, `confirm_delivery()`, each publish confirmed before the next) — and, for reference, the
  same N pipelined (batches of 500 in flight, as Gerbang's relay publishes);
- end to end: N applications POSTed to `gerbang serve` (real HTTP, API keys, schema checks, one transaction
  each), relayed with confirms, consumed, submitted to the agency simulators and committed `submitted`: the rate
  from the first POST to the last application submitted;
- floor (bench/submit_floor.py, skip with --skip-floor): the same applications through FastAPI, PostgreSQL, the
  broker and the simulators doing only the least that end to end needs (INSERT, publish with confirms, consume,
  the connector's call, UPDATE, ack): the most this machine allows whatever Gerbang does, so a target the machine
  cannot meet is told apart from one the code misses.
Targets: ≥ 500 applications/s end to end and ≥ 30 % of the raw confirmed-publish rate; lost and duplicated
(any idempotency key the simulators received more than once, any application not submitted, any key never
received) must both be 0.

    .venv/bin/python bench/submit.py [--count 5000] [--workers 1] [--apis 1] [--connections 48]

Needs PostgreSQL and RabbitMQ: GERBANG_BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test;
the run uses a schema of its own, dropped afterwards) and GERBANG_BENCH_AMQP_URL (default the local broker,
guest; its exchanges and queues are deleted afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pika
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.oss.simdata import decision as oss_decision  # noqa: E402
from connectors.oss.simdata import owner_of as oss_owner  # noqa: E402
from connectors.samsat.simdata import SamsatState  # noqa: E402
from connectors.simkit.population import Population  # noqa: E402
from core.audit.note import generate_signer  # noqa: E402
from core.bus.amqp import Topology  # noqa: E402
from core.bus.publisher import ConfirmPublisher, Outgoing  # noqa: E402
from core.db import make_engine, session_factory, upgrade  # noqa: E402
from core.security.clients import create_client  # noqa: E402
from core.security.secrets import new_secret_values  # noqa: E402
from identity.clock import WIB  # noqa: E402
from tests.core.bus.processes import free_port, wait_http  # noqa: E402
from tests.database import scratch_schema  # noqa: E402

DB_URL = os.environ.get("GERBANG_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
AMQP_URL = os.environ.get("GERBANG_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
SEED, SIZE = 2024, 2000
AGENCIES = ("oss", "samsat")


# --- raw confirmed publishing ---------------------------------------------------------------------------------
def raw_blocking(count: int, body: bytes) -> float:
    """Messages/s: BlockingConnection, confirm_delivery, persistent, mandatory, one confirm per publish."""
    queue = f"bench.raw.{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    channel.confirm_delivery()
    properties = pika.BasicProperties(delivery_mode=2, content_type="application/json")
    try:
        started = time.perf_counter()
        for i in range(count):
            channel.basic_publish("", queue, body, properties, mandatory=True)
        return count / (time.perf_counter() - started)
    finally:
        channel.queue_delete(queue)
        connection.close()


def raw_pipelined(count: int, body: bytes, batch: int = 500) -> float:
    """Messages/s with Gerbang's ConfirmPublisher: batches of `batch` in flight, confirms awaited per batch."""
    queue = f"bench.raw.{uuid.uuid4().hex[:8]}"
    setup = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    setup.channel().queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    publisher = ConfirmPublisher(pika.URLParameters(AMQP_URL)).start()
    try:
        assert publisher.wait_connected(10)
        started = time.perf_counter()
        for first in range(0, count, batch):
            size = min(batch, count - first)
            results = publisher.publish("", [Outgoing(queue, body, f"m{first + i}") for i in range(size)], 30)
            assert all(results)
        return count / (time.perf_counter() - started)
    finally:
        publisher.stop()
        setup.channel().queue_delete(queue)
        setup.close()


# --- the system under test -------------------------------------------------------------------------------------

SIMULATORS = textwrap.dedent("""
    # uvicorn binds host:port itself here (not connectors.simkit.serving.bind, whose protocol-0 socket makes
    # asyncio skip TCP_NODELAY: every keep-alive answer then waits ~40 ms for a delayed ACK)
    import threading, time
    import uvicorn
    from connectors.registry import discover
    from connectors.simkit.population import Population
    population = Population(seed={seed}, size={size})
    plugins = discover()
    servers = []
    for name, port in zip({agencies!r}, {ports!r}):
        config = uvicorn.Config(plugins[name].simulator(population), host="127.0.0.1", port=port,
                                log_level="error", access_log=False)
        servers.append(uvicorn.Server(config))
        threading.Thread(target=servers[-1].run, daemon=True).start()
    while not all(server.started for server in servers):
        time.sleep(0.01)
    print("ready", flush=True)
    while True:
        time.sleep(3600)
""")


LOGS = Path(tempfile.mkdtemp(prefix="gerbang-bench-logs-"))


def start(args: list[str], env: dict[str, str], name: str, *, pipe: bool = False) -> subprocess.Popen[bytes]:
    """A process whose stderr goes to a log file (never a pipe nobody reads: a full pipe would stall it)."""
    log = open(LOGS / f"{name}-{len(list(LOGS.iterdir()))}.log", "wb")
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE if pipe else subprocess.DEVNULL,
                            stderr=log)


def requests_for(count: int) -> list[dict[str, Any]]:
    """`count` applications the simulators accept, alternating OSS licence applications and Samsat codes."""
    population = Population(seed=SEED, size=SIZE)
    samsat = SamsatState(population)
    import datetime as dt

    today = dt.datetime.now(WIB).date()  # the simulator's calendar (Jakarta): which tax year is due
    oss: list[dict[str, Any]] = []
    pkb: list[dict[str, Any]] = []
    for person in population.people:
        if person.life_status != "alive" or not person.in_dukcapil:
            continue
        owner = oss_owner(population, person)
        for nib in owner.nibs if owner else ():
            if nib.status == "01":
                oss.extend({"nik": person.nik, "agency": "oss", "service": "license_status",
                            "payload": oss_decision(owner, nib, licence)} for licence in nib.licences)
        vehicles = samsat.owners.get(person.nik)
        for vehicle in vehicles.vehicles if vehicles else ():
            pkb.append({"nik": person.nik, "agency": "samsat", "service": "pkb_payment",
                        "payload": {"nik": person.nik, "plate": vehicle.plate, "year": vehicle.pkb_due(today).year}})
    pools = [oss, pkb]
    return [pools[i % 2][(i // 2) % len(pools[i % 2])] for i in range(count)]


async def post_all(ports: list[int], key: str, bodies: list[dict[str, Any]], connections: int
                   ) -> tuple[list[str], int, float]:
    """POST every body over keep-alive connections (raw asyncio streams: cheap for the client); returns the
    application ids, the number of non-202 answers and the seconds taken."""
    ids: list[str] = []
    errors = 0
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def client(port: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not queue.empty():
                body = json.dumps(queue.get_nowait()).encode()
                head = (f"POST /v1/applications HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        f"Authorization: Bearer {key}\r\nIdempotency-Key: {uuid.uuid4()}\r\n"
                        "Officer-Id: bench-officer\r\nCounter-Id: loket-01\r\nMpp-Site: mpp-bench\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
                writer.write(head + body)
                raw = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line[15:]) for line in raw.split(b"\r\n")
                              if line[:15].lower() == b"content-length:")
                answer = await reader.readexactly(length)
                if raw[9:12] == b"202":
                    ids.append(json.loads(answer)["id"])
                else:
                    errors += 1
                    if errors <= 3:
                        print(f"refused: {raw[:12].decode()} {answer[:300].decode(errors='replace')}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(ports[i % len(ports)]) for i in range(connections)))
    return ids, errors, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1, help="gerbang worker processes")
    parser.add_argument("--apis", type=int, default=1, help="gerbang serve processes")
    parser.add_argument("--connections", type=int, default=48, help="concurrent POST connections")
    parser.add_argument("--prefetch", type=int, default=100)
    # 20: as in earlier runs, so figures compare (the connectors now keep every pooled connection alive, up to
    # connectors/rest.py MAX_CONNECTIONS per agency, so a higher value no longer means a TCP connect per call)
    parser.add_argument("--agency-concurrency", type=int, default=20,
                        help="GERBANG_AGENCY_CONCURRENCY: calls in flight per agency, shared by all processes")
    parser.add_argument("--skip-raw", action="store_true")
    parser.add_argument("--skip-floor", action="store_true", help="skip the floor run (bench/submit_floor.py)")
    parser.add_argument("--staged", action="store_true",
                        help="start the workers only once every POST is answered (API and workers measured apart)")
    args = parser.parse_args()

    body = json.dumps({"message_id": str(uuid.uuid4()), "application_id": str(uuid.uuid4()),
                       "agency": "oss"}).encode()
    if not args.skip_raw:
        raw = raw_blocking(args.count, body)
        print(f"raw pika confirmed publish (blocking, one confirm per message): {raw:8.0f} msg/s")
        piped = raw_pipelined(args.count, body)
        print(f"raw pika confirmed publish (pipelined, batches of 500)        : {piped:8.0f} msg/s")

    schema = ExitStack()
    url = schema.enter_context(scratch_schema(DB_URL, prefix="bench_", migrate=False))  # bring_up migrates it
    topology = Topology(f"bench{uuid.uuid4().hex[:6]}")
    processes: list[subprocess.Popen[bytes]] = []
    data_dir = tempfile.mkdtemp(prefix="gerbang-bench-")
    try:
        engine, key, env, sims, sim_ports = bring_up(url, processes)
        env.update({"GERBANG_DATABASE_URL": url, "GERBANG_AMQP_URL": AMQP_URL, "GERBANG_BUS_PREFIX": topology.prefix,
                    "GERBANG_DATA_DIR": data_dir, "GERBANG_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
                    "GERBANG_BUS_PREFETCH": str(args.prefetch), "GERBANG_BREAKER_THRESHOLD": "1000",
                    "GERBANG_RATE_LIMIT_PER_S": "0", "GERBANG_AGENCY_CONCURRENCY": str(args.agency_concurrency)})
        api_ports = [free_port() for _ in range(args.apis)]
        apis = [start([sys.executable, "-m", "core.cli.main", "serve", "--port", str(port)], env, "api")
                for port in api_ports]
        processes += apis
        for port, api in zip(api_ports, apis):
            wait_http(f"http://127.0.0.1:{port}/healthz", api)
        cpu_before: dict[int, float] = {}

        def start_workers() -> None:
            for _ in range(args.workers):
                processes.append(start([sys.executable, "-m", "core.cli.main", "worker"], env, "worker"))
            wait_for_queues(topology)
            time.sleep(1.0)  # past start-up (imports, connections), so its CPU is not counted as work
            cpu_before.update({p.pid: cpu_seconds(p.pid) for p in processes[-args.workers:]})

        if not args.staged:
            start_workers()
        bodies = requests_for(args.count)
        roles = {"api": apis, "simulators": [sims]}
        cpu_before.update({p.pid: cpu_seconds(p.pid) for p in apis + [sims]})
        services_before = services_snapshot()
        machine_before = machine_busy()
        started = time.perf_counter()
        ids, errors, post_s = asyncio.run(post_all(api_ports, key, bodies, args.connections))
        print(f"API accepted {len(ids)} applications in {post_s:.1f}s ({len(ids) / post_s:.0f}/s), "
              f"{errors} refused")
        if args.staged:  # the API alone first, then the workers drain the outbox
            start_workers()
            drain_started = time.perf_counter()
            drain_s = wait_submitted(engine, len(ids), drain_started, timeout_s=max(120.0, args.count / 20))
            print(f"workers drained {len(ids)} applications in {drain_s:.1f}s ({len(ids) / drain_s:.0f}/s)")
        done_s = wait_submitted(engine, len(ids), started, timeout_s=max(120.0, args.count / 20))
        e2e = len(ids) / done_s
        roles["workers"] = [p for p in processes if p not in apis and p is not sims]
        busy, total = (a - b for a, b in zip(machine_busy(), machine_before))
        cost = {role: sum(cpu_seconds(p.pid) - cpu_before.get(p.pid, 0.0) for p in procs)
                for role, procs in roles.items()}
        cost.update(services_cost(services_before))
        print("CPU per application: " + ", ".join(f"{role} {1000 * sec / max(1, len(ids)):.2f} ms"
                                                  for role, sec in cost.items())
              + f"; the machine was {100 * busy / total:.0f} % busy during the run "
              f"({os.cpu_count()} CPUs; PostgreSQL, RabbitMQ and anything else running included)")
        counts = status_counts(engine)
        receipts: dict[str, int] = {}
        for port in sim_ports:
            receipts.update(httpx.get(f"http://127.0.0.1:{port}/_sim/stats", timeout=10).json()["submissions"])
        duplicated = sum(1 for i in ids if receipts.get(i, 0) > 1)
        lost = errors + sum(1 for i in ids if receipts.get(i, 0) == 0) + (args.count - len(ids) - errors)
        not_submitted = len(ids) - counts.get("submitted", 0)
        print(f"end to end: {len(ids)} applications submitted in {done_s:.1f}s = {e2e:8.0f} applications/s "
              f"({args.apis} API, {args.workers} worker process(es))")
        print(f"statuses: {counts}")
        with engine.connect() as connection:  # why anything did not end submitted
            for row in connection.execute(text(
                    "SELECT agency, status, reason_code, left(reason, 120) AS reason, count(*) AS n FROM application "
                    "WHERE status <> 'submitted' GROUP BY 1, 2, 3, 4 ORDER BY n DESC LIMIT 5")).all():
                print(f"  {row.n} {row.agency} {row.status}: {row.reason_code} {row.reason}")
        if not args.skip_raw:
            print(f"end to end / raw blocking confirmed publish: {100 * e2e / raw:5.1f} %   "
                  f"(/ pipelined: {100 * e2e / piped:5.1f} %)")
        print(f"lost: {lost + not_submitted}   duplicated: {duplicated}   (process logs: {LOGS})")
        for app_id in [i for i in ids if receipts.get(i, 0) > 1][:3]:
            with engine.connect() as connection:
                steps = connection.execute(text("SELECT status, at, attempt, detail FROM application_transition "
                                                "WHERE application_id = :id ORDER BY id"), {"id": app_id}).all()
            print(f"  received {receipts[app_id]}x: {app_id}: " + "; ".join(
                f"{s.status}@{s.at:%H:%M:%S.%f} {s.detail or ''}" for s in steps))
        engine.dispose()
        if not args.skip_floor:
            floor(url, bodies, sim_ports, sims.pid, args, e2e)
    finally:
        tear_down(processes, schema, topology)


def floor(url: str, bodies: list[dict[str, Any]], sim_ports: list[int], sims_pid: int, args: argparse.Namespace,
          e2e: float) -> None:
    """The same applications through FastAPI, PostgreSQL, the broker and the simulators doing only the least that
    end to end needs (bench/submit_floor.py): the most this machine allows, whatever Gerbang does."""
    from connectors.registry import discover

    plugins = discover()
    agencies = {name: {k.lower(): str(v) for k, v in plugins[name].sim_config(f"http://127.0.0.1:{port}").items()}
                for name, port in zip(AGENCIES, sim_ports)}  # type: ignore[misc]
    port = free_port()
    spec = {"amqp_url": AMQP_URL, "database_url": url, "queue": f"bench.floor.{uuid.uuid4().hex[:8]}",
            "agencies": agencies, "port": port, "count": len(bodies), "concurrency": args.agency_concurrency,
            "prefetch": args.prefetch}
    spec_path = LOGS / "floor-spec.json"
    spec_path.write_text(json.dumps(spec))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GERBANG_")}, "PYTHONPATH": str(ROOT)}
    script = str(ROOT / "bench" / "submit_floor.py")
    api = start([sys.executable, script, "api", str(spec_path)], env, "floor-api")
    worker: subprocess.Popen[bytes] | None = None
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", api)
        worker = start([sys.executable, script, "worker", str(spec_path)], env, "floor-worker", pipe=True)
        assert worker.stdout is not None
        if worker.stdout.readline().strip() != b"ready":
            print(f"floor run failed: its worker did not start; see {LOGS}")
            return
        services_before = services_snapshot()
        before = {pid: cpu_seconds(pid) for pid in (api.pid, worker.pid, sims_pid)}
        machine_before = machine_busy()
        started = time.perf_counter()
        ids, errors, post_s = asyncio.run(post_all([port], "floor", bodies, args.connections))
        if errors:
            print(f"floor run failed: its API refused {errors} applications; see {LOGS}")
            return
        line = worker.stdout.readline()
        seconds = time.perf_counter() - started
        cost = {role: cpu_seconds(pid) - before[pid]
                for role, pid in (("api", api.pid), ("worker", worker.pid), ("simulators", sims_pid))}
        busy, total = (a - b for a, b in zip(machine_busy(), machine_before))
        cost.update(services_cost(services_before))
        if not line:
            print(f"floor run failed: see {LOGS}")
            return
        result = json.loads(line)
        rate = result["done"] / seconds
        print(f"floor (FastAPI → INSERT → publish with confirms → quorum queue → consume → connector → UPDATE → ack; "
              f"nothing else): API {len(ids) / post_s:.0f}/s, {result['done']} submitted in {seconds:.1f}s = "
              f"{rate:8.0f} applications/s ({errors} refused, {result['errors']} agency errors)")
        print("floor CPU per application: " + ", ".join(f"{role} {1000 * sec / max(1, len(ids)):.2f} ms"
                                                        for role, sec in cost.items())
              + f"; the machine was {100 * busy / total:.0f} % busy")
        print(f"end to end / floor: {100 * e2e / rate:5.1f} %")
    finally:
        stop([process for process in (worker, api) if process is not None], timeout_s=10)
        delete_queue(spec["queue"])  # also when the run failed half-way (its schema goes with the main run's)


def wait_for_queues(topology: Topology, timeout_s: float = 60) -> None:
    """The worker declares its queues once connected: wait for them."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            for agency in AGENCIES:
                connection.channel().queue_declare(topology.queue(agency), passive=True)
            return
        except pika.exceptions.ChannelClosedByBroker:
            time.sleep(0.2)
        finally:
            if connection.is_open:
                connection.close()
    raise RuntimeError("the worker did not declare its queues")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), to report cost per application regardless of
    what else the machine is doing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def services_snapshot() -> dict[int, float]:
    """CPU seconds so far of each local PostgreSQL and RabbitMQ process, for `services_cost`."""
    return {pid: cpu_seconds(pid) for pids in service_pids().values() for pid in pids}


def services_cost(before: dict[int, float]) -> dict[str, float]:
    """CPU seconds each local service (PostgreSQL, RabbitMQ) used since `before` ({pid: seconds}); a process that
    exited meanwhile (a backend whose client disconnected, an autovacuum worker) is not counted."""
    cost: dict[str, float] = {}
    for service, pids in service_pids().items():
        used = (cpu_seconds(pid) - before.get(pid, 0.0) for pid in pids)
        cost[service] = sum(seconds for seconds in used if seconds == seconds)  # NaN: gone
    return cost


SERVICES = {"postgresql": ("postgres",), "rabbitmq": ("beam.smp", "erl_child_setup")}


def service_pids() -> dict[str, list[int]]:
    """Local PostgreSQL and RabbitMQ processes by name (Linux /proc; none if they run elsewhere): their CPU is
    part of each application's cost too, and the share that the worker's round trips cause shows up there."""
    found: dict[str, list[int]] = {name: [] for name in SERVICES}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "comm").read_text().strip()
        except OSError:
            continue
        for name, commands in SERVICES.items():
            if command in commands:
                found[name].append(int(entry.name))
    return {name: pids for name, pids in found.items() if pids}


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


def status_counts(engine: Any) -> dict[str, int]:
    with engine.connect() as connection:
        return {row[0]: row[1] for row in connection.execute(
            text("SELECT status, count(*) FROM application GROUP BY status")).all()}


def wait_submitted(engine: Any, expected: int, started: float, timeout_s: float) -> float:
    """Seconds from `started` until `expected` applications are final: polled every 0.5 s until 90 % are, then
    every 20 ms. Each poll scans the table (~2.5 ms of PostgreSQL at 5,000 rows); polling every 50 ms throughout
    had put ~0.12 ms of the bench's own PostgreSQL CPU on every application."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        counts = status_counts(engine)
        final = sum(counts.get(s, 0) for s in ("submitted", "rejected", "failed"))
        if final >= expected:
            return time.perf_counter() - started
        time.sleep(0.5 if final < 0.9 * expected else 0.02)
    raise RuntimeError(f"not all applications final after {timeout_s}s: {status_counts(engine)}")


def bring_up(url: str, processes: list[subprocess.Popen[bytes]]
             ) -> tuple[Any, str, dict[str, str], subprocess.Popen[bytes], list[int]]:
    """Migrate the run's schema, create the bench client, start the simulators (appended to `processes`);
    returns the engine, the client's key, the environment (agencies, secrets) for Gerbang processes, the
    simulators' process and their ports."""
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        _, key = create_client(session, "bench", ["application:submit:*", "application:read"], [])
    sim_ports = [free_port() for _ in AGENCIES]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GERBANG_")}
    env["PYTHONPATH"] = str(ROOT)
    sims = start([sys.executable, "-c", SIMULATORS.format(seed=SEED, size=SIZE, agencies=AGENCIES,
                                                           ports=sim_ports)], env, "simulators", pipe=True)
    processes.append(sims)
    assert sims.stdout is not None and sims.stdout.readline().strip() == b"ready", "simulators did not start"
    from connectors.registry import discover

    plugins = discover()
    for name, port in zip(AGENCIES, sim_ports):
        for k, v in plugins[name].sim_config(f"http://127.0.0.1:{port}").items():  # type: ignore[misc]
            env[f"GERBANG_AGENCY_{name.upper()}_{k.upper()}"] = str(v)
    env.update({f"GERBANG_{k.upper()}": v for k, v in new_secret_values().items()})
    env["GERBANG_SIGNING_KEY"] = generate_signer("gerbang.bench/audit")[0]
    return engine, key, env, sims, sim_ports


def tear_down(processes: list[subprocess.Popen[bytes]], schema: ExitStack, topology: Topology) -> None:
    """Stop the processes (SIGTERM, then kill), drop the run's schema (closing `schema`), delete its exchanges and
    queues."""
    stop(processes)
    schema.close()
    drop_topology(topology)


def stop(processes: list[subprocess.Popen[bytes]], timeout_s: float = 15) -> None:
    """SIGTERM every process still running, then kill those that have not exited within `timeout_s`."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()


def delete_queue(name: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        connection.channel().queue_delete(name)
    finally:
        connection.close()


def drop_topology(topology: Topology) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        from connectors.registry import discover

        for name in ([topology.queue(a) for a, p in discover().items() if p.services]
                     + [topology.dead_queue, topology.callbacks_queue]):
            channel.queue_delete(name)
        for exchange in (topology.submit_exchange, topology.dead_exchange, topology.events_exchange):
            channel.exchange_delete(exchange)
    finally:
        connection.close()


if __name__ == "__main__":
    main()
