"""docker-compose.yml cannot be run here (no Docker engine), so its wiring is checked by reading it (the agency
settings must be what `gerbang simulate serve --port-base 9001 --public-url http://simulators` prints, the secrets
must load, the services the README names must exist) and by running each service's command with its compose
environment against the local PostgreSQL and RabbitMQ."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pika
import pytest
import yaml
from sqlalchemy import create_engine, text

from connectors.registry import discover
from connectors.simkit.population import Population
from core.bus.amqp import Topology
from core.db.engine import normalise_url
from core.demo import sample_submission
from core.security.secrets import load_secrets
from core.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.core.conftest import COUNTER_CONTEXT
from tests.database import scratch_schema

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def expected_agency_env() -> dict[str, str]:
    env: dict[str, str] = {}
    simulators = [(name, p) for name, p in discover().items() if p.simulator is not None]
    for offset, (name, plugin) in enumerate(simulators):
        url = f"http://simulators:{9001 + offset}"
        config = plugin.sim_config(url) if plugin.sim_config else {"url": url}
        env.update({f"GERBANG_AGENCY_{name.upper()}_{k.upper()}": str(v) for k, v in config.items()})
    return env


def test_agency_settings_match_the_simulators() -> None:
    actual = {k: str(v) for k, v in COMPOSE["x-gerbang-env"].items() if k.startswith("GERBANG_AGENCY_")}
    expected = expected_agency_env()
    # password_type defaults to digest in the SOAP clients, so compose may leave it out
    expected = {k: v for k, v in expected.items() if not (k.endswith("_PASSWORD_TYPE") and v == "digest")}
    assert actual == expected


def test_services_and_commands() -> None:
    services = COMPOSE["services"]
    assert {"postgres", "rabbitmq", "migrate", "api", "simulators"} <= set(services)
    assert services["simulators"]["command"][:3] == ["gerbang", "simulate", "serve"]
    assert "9001" in " ".join(services["simulators"]["command"])
    assert services["migrate"]["command"] == ["gerbang", "db", "upgrade"]
    assert (ROOT / "Dockerfile").exists()


def test_the_image_installs_the_wheel_without_extras() -> None:
    """As .ci/smoke_wheel.sh does (and it runs the demo from that install): build the wheel, install only it."""
    runs = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("RUN ")]
    assert any("pip wheel --no-deps" in line for line in runs), runs
    assert any(re.search(r"pip install /wheels/gerbang-\*\.whl(\s|$)", line) for line in runs), runs
    assert not any(re.search(r"pip install (-e )?\.|\[", line) for line in runs), runs  # no source install, no extras
    assert "smoke_wheel.sh" in (ROOT / ".ci" / "run").read_text()


def test_compose_secrets_load_in_distributed_mode() -> None:
    env = COMPOSE["x-gerbang-env"]
    settings = Settings(database_url=env["GERBANG_DATABASE_URL"], amqp_url=env["GERBANG_AMQP_URL"],
                        nik_hash_key=env["GERBANG_NIK_HASH_KEY"], data_keys=env["GERBANG_DATA_KEYS"])
    assert not settings.embedded
    assert load_secrets(settings).data_keys.active == "k1"


# --- Each service's command, run here with its compose environment -------------------------------------------------
# Hosts and ports become loopback ones (postgres → GERBANG_TEST_DATABASE_URL in a schema of its own, rabbitmq →
# GERBANG_TEST_AMQP_URL under a bus prefix of its own, simulators → free local ports); everything else is compose's
# own, so a wrong command, option or setting name fails here.

AMQP_URL = os.environ.get("GERBANG_TEST_AMQP_URL")
GERBANG = str(Path(sys.executable).with_name("gerbang"))


def free_block(count: int) -> int:
    """The first of `count` consecutive free loopback ports."""
    for _ in range(50):
        base = random.randrange(20000, 60000 - count)
        held: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
    raise RuntimeError("no block of free ports")


def localise(value: str, sim_base: int) -> str:
    """A compose value with the simulators' host:port turned into the local ones."""
    return re.sub(r"http://simulators:(\d+)", lambda m: f"http://127.0.0.1:{sim_base + int(m[1]) - 9001}", value)


def service_command(name: str, replacements: dict[str, str]) -> list[str]:
    """The service's command with the options named in `replacements` given local values (`--port 8000` → …)."""
    command = [str(part) for part in COMPOSE["services"][name]["command"]]
    for i, part in enumerate(command[:-1]):
        if part in replacements:
            command[i + 1] = replacements[part]
    return command


def wait_for(what: str, check: Callable[[], bool], process: subprocess.Popen[str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what}: the process exited {process.returncode}: {process.communicate()[0]}")
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout_s}s")


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def delete_topology(prefix: str) -> None:
    assert AMQP_URL
    topology = Topology(prefix)
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        for queue in [topology.queue(a) for a, p in discover().items() if p.services] + [
                topology.dead_queue, topology.callbacks_queue]:
            channel.queue_delete(queue)
        for exchange in (topology.submit_exchange, topology.dead_exchange, topology.events_exchange):
            channel.exchange_delete(exchange)
    finally:
        connection.close()


@pytest.mark.postgres
@pytest.mark.rabbitmq
@pytest.mark.skipif(not (POSTGRES_URL and AMQP_URL), reason="GERBANG_TEST_DATABASE_URL / GERBANG_TEST_AMQP_URL not set")
def test_each_service_command_runs_with_its_compose_environment(tmp_path: Path) -> None:
    """migrate migrates an empty database; simulators serve; api answers /healthz and /readyz (database and broker
    reached with compose's settings); a client added with compose's settings submits an application that the
    worker relays through RabbitMQ to OSS's simulator and sees `submitted`."""
    sim_base, api_port, prefix = free_block(7), free_block(1), f"gc{uuid.uuid4().hex[:10]}"
    processes: list[subprocess.Popen[str]] = []

    def start(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        assert command[0] == "gerbang", command
        process = subprocess.Popen([GERBANG, *command[1:]], env=env, cwd=tmp_path, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    assert POSTGRES_URL
    with scratch_schema(POSTGRES_URL, migrate=False) as database_url:  # the migrate service creates the tables
        base = {k: v for k, v in os.environ.items() if not k.startswith("GERBANG_")}
        compose_env = {k: localise(str(v), sim_base) for k, v in COMPOSE["x-gerbang-env"].items()}
        # the local servers go in under compose's own names, so a misspelt name stays misspelt
        compose_env = {k: database_url if "@postgres:" in v else AMQP_URL if "@rabbitmq:" in v else v
                       for k, v in compose_env.items()}
        assert database_url in compose_env.values() and AMQP_URL in compose_env.values()
        env = {**base, **compose_env, "GERBANG_BUS_PREFIX": prefix}  # a namespace of this test's own
        try:
            migrate = subprocess.run([GERBANG, *service_command("migrate", {})[1:]], env=env, cwd=tmp_path,
                                     capture_output=True, text=True, timeout=120)
            assert migrate.returncode == 0, migrate.stdout + migrate.stderr
            assert "revision" in migrate.stdout + migrate.stderr
            engine = create_engine(normalise_url(database_url))
            with engine.connect() as connection:  # the migrations went into PostgreSQL, not a stray SQLite file
                assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            engine.dispose()

            sims = start("simulators", service_command("simulators", {
                "--host": "127.0.0.1", "--port-base": str(sim_base), "--public-url": "http://127.0.0.1"}),
                {**base, **COMPOSE["services"]["simulators"].get("environment", {})})
            wait_for("simulators", lambda: all(answers(f"http://127.0.0.1:{sim_base + i}/_sim/stats")
                                               for i in range(7)), sims)

            api = start("api", service_command("api", {"--host": "127.0.0.1", "--port": str(api_port)}), env)
            url = f"http://127.0.0.1:{api_port}"
            wait_for("api /healthz", lambda: answers(f"{url}/healthz"), api)
            wait_for("api /readyz", lambda: answers(f"{url}/readyz"), api, timeout_s=30)

            worker = start("worker", service_command("worker", {}), env)
            added = subprocess.run([GERBANG, "clients", "add", "compose-counter", "--scopes",
                                    "application:submit:*,application:read", "--purposes", "business_licensing"],
                                   env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
            assert added.returncode == 0, added.stderr
            key = json.loads(added.stdout.splitlines()[0])["api_key"]
            submission = sample_submission(Population(seed=2024, size=500))  # `simulate serve`'s population
            assert submission is not None
            headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "compose-1", **COUNTER_CONTEXT}
            accepted = httpx.post(f"{url}/v1/applications", json=submission, headers=headers, timeout=20)
            assert accepted.status_code == 202, accepted.text
            view: dict[str, Any] = {}

            def submitted() -> bool:
                nonlocal view
                view = httpx.get(f"{url}/v1/applications/{accepted.json()['id']}", headers=headers, timeout=10).json()
                return view.get("status") == "submitted"

            wait_for(f"the worker submits (last seen {view})", submitted, worker, timeout_s=60)
        finally:
            for process in processes:
                process.send_signal(signal.SIGINT)
            for process in processes:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
            delete_topology(prefix)
