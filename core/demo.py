"""The demo: every simulator, an SQLite database and the API on loopback, wired together in one process.

Simulators run on their own threads at fixed ports after the API's (port+1, port+2, … in agency order) so the
printed URLs are stable; the API runs on the main thread so Ctrl-C stops it, after which everything else stops.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session, col, select

from connectors.base import ConnectorPlugin, DemoTour
from connectors.registry import discover
from connectors.simkit import serving
from connectors.simkit.population import Person, Population
from core.db import make_engine, session_factory, upgrade
from core.db.engine import describe_database
from core.db.models import ApiKey, Client
from core.security.clients import create_client
from core.security.keys import generate_key, hash_key, key_id
from core.security.secrets import write_private_json
from core.settings import AGENCY_PREFIX, Settings
from identity.clock import utcnow
from identity.purposes import load_purposes

DEMO_CLIENT = "demo-counter"
DEMO_SCOPES = ["citizen:read:*", "citizen:verify", "application:submit:*", "application:read"]
ADMIN_CLIENT = "demo-admin"
ADMIN_SCOPES = ["admin", "audit:read", "subjects:history"]
KEYS_FILE = "demo-keys.json"


@dataclass
class Demo:
    """What the demo started: settings for the API, simulator servers, the population, the demo key and each
    agency's demo tour."""

    settings: Settings
    population: Population
    api_key: str
    admin_key: str
    simulators: dict[str, serving.RunningServer] = field(default_factory=dict)
    tours: dict[str, DemoTour] = field(default_factory=dict)

    def stop(self) -> None:
        for server in self.simulators.values():
            server.stop()


def demo_keys(settings: Settings) -> dict[str, str]:
    """The demo's counter and admin keys, kept in `<data_dir>/demo-keys.json` (0600) so a restart reuses them.

    Why: a new key on every start left a pile of live keys behind. GERBANG_DEMO_API_KEY fixes the counter key."""
    path = settings.data_dir / KEYS_FILE
    stored: dict[str, str] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            stored = {k: v for k, v in loaded.items() if k in ("counter", "admin") and isinstance(v, str)}
        except (ValueError, AttributeError):
            stored = {}  # unreadable: new keys, and the old ones are revoked below
    keys = {
        "counter": settings.demo_api_key or stored.get("counter") or generate_key(),
        "admin": stored.get("admin") or generate_key(),
    }
    if keys != stored:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        write_private_json(path, keys)
    return keys


def start_simulators(
    plugins: Mapping[str, ConnectorPlugin], population: Population, host: str, first_port: int
) -> dict[str, serving.RunningServer]:
    """Start each plug-in's simulator on consecutive ports (0 = any free port)."""
    started: dict[str, serving.RunningServer] = {}
    try:
        for offset, (name, plugin) in enumerate(p for p in plugins.items() if p[1].simulator is not None):
            port = first_port + offset if first_port else 0
            assert plugin.simulator is not None
            started[name] = serving.start(plugin.simulator(population), host, port)
    except Exception:
        for server in started.values():
            server.stop()
        raise
    return started


def agency_environment(
    plugins: Mapping[str, ConnectorPlugin],
    simulators: Mapping[str, serving.RunningServer],
) -> dict[str, str]:
    """GERBANG_AGENCY_<NAME>_<KEY> settings pointing each client at its simulator."""
    env: dict[str, str] = {}
    for name, server in simulators.items():
        sim_config = plugins[name].sim_config
        config = sim_config(server.url) if sim_config else {"url": server.url}
        for key, value in config.items():
            env[f"{AGENCY_PREFIX}{name.upper()}_{key.upper()}"] = str(value)
    return env


def ensure_demo_client(session: Session, name: str, scopes: list[str], key: str, kind: str) -> None:
    """Client `name` exists with exactly these scopes and every purpose, `key` is its one live key (any other key it
    had, e.g. from an older demo that made a new one per start, is revoked)."""
    client = session.exec(select(Client).where(col(Client.name) == name)).first()
    if client is None:
        create_client(session, name, scopes, sorted(load_purposes()), key=key, kind=kind)
        return
    client.scopes, client.purposes, client.kind, client.disabled = scopes, sorted(load_purposes()), kind, False
    assert client.id is not None
    live = session.exec(select(ApiKey).where(col(ApiKey.client_id) == client.id, col(ApiKey.revoked_at).is_(None)))
    for old in live.all():
        if old.key_hash != hash_key(key):
            old.revoked_at = utcnow()
    if session.exec(select(ApiKey).where(col(ApiKey.key_hash) == hash_key(key))).first() is None:
        session.add(ApiKey(client_id=client.id, key_id=key_id(key), key_hash=hash_key(key)))


def ensure_demo_clients(url: str, keys: Mapping[str, str]) -> None:
    """The counter client (counter scopes only) and the admin client (console, admin and audit) with their keys."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            ensure_demo_client(session, DEMO_CLIENT, DEMO_SCOPES, keys["counter"], "counter")
            ensure_demo_client(session, ADMIN_CLIENT, ADMIN_SCOPES, keys["admin"], "operator")
            session.commit()
    finally:
        engine.dispose()


def private_sqlite_file(url: str) -> None:
    """Make an SQLite database file readable by its owner only (0600), as the key files beside it are: it holds
    the API keys' hashes, the sealed applications and the audit log. SQLite gives its -wal and -shm files the
    database file's mode."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return  # not a URL: migrating it says so
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)


def prepare(
    settings: Settings, *, seed: int, host: str = "127.0.0.1", port: int = 8000, population_size: int = 500
) -> Demo:
    """Migrate the database, start the simulators, create the demo client; the API is started by the caller."""
    url = settings.database_url
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the banner, not migration chatter, is the demo's output
    private_sqlite_file(url)
    upgrade(url)
    population = Population(seed=seed, size=population_size)
    plugins = discover()
    simulators = start_simulators(plugins, population, host, port + 1 if port else 0)
    try:
        keys = demo_keys(settings)
        ensure_demo_clients(url, keys)
        agency_env = {**settings.agency_env, **agency_environment(plugins, simulators)}
        for name, plugin in plugins.items():  # what an agency pushes (e.g. licences to process) the counter sees
            if plugin.inbound is not None:
                agency_env.setdefault(f"{AGENCY_PREFIX}{name.upper()}_INBOX_CLIENT", DEMO_CLIENT)
        api_settings = settings.model_copy(update={"database_url": url, "agency_env": agency_env})
    except Exception:
        for server in simulators.values():
            server.stop()
        raise
    return Demo(
        settings=api_settings,
        population=population,
        api_key=keys["counter"],
        admin_key=keys["admin"],
        simulators=simulators,
        tours=demo_tours(plugins, population),
    )


def wait_until_up(
    demo: Demo, api_started: Callable[[], bool], given_up: Callable[[], bool], probe_url: str, timeout_s: float = 60.0
) -> bool:
    """True once the API answers `GET /healthz` and every simulator accepts connections; False if the server gave
    up (`given_up`) or `timeout_s` passed. Why: the banner is a promise that the curl lines work, so it waits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not given_up():
        if (
            api_started()
            and _answers(f"{probe_url}/healthz")
            and all(_accepts(s.port) for s in demo.simulators.values())
        ):
            return True
        time.sleep(0.05)
    return False


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def pick_samples(population: Population) -> list[Person]:
    """A few people worth trying: alive ones, a deceased, an inactive and one the civil registry does not know."""
    chosen: list[Person] = []
    wanted = [
        ("alive", True),
        ("alive", True),
        ("alive", True),
        ("deceased", True),
        ("inactive", True),
        ("alive", False),
    ]
    for status, known in wanted:
        person = next(
            (p for p in population.people if p.life_status == status and p.in_dukcapil == known and p not in chosen),
            None,
        )
        if person is not None:
            chosen.append(person)
    return chosen


def banner(demo: Demo, api_url: str) -> str:
    """What the demo prints: the key, the simulators, sample NIKs and ready curl lines (each agency's own tour)."""
    lines = [
        f"Gerbang demo — API at {api_url} (docs at {api_url}/docs)",
        "",
        f"Demo API key: {demo.api_key}   (counter {DEMO_CLIENT}: look-ups, verifications, applications)",
        f"Admin key:    {demo.admin_key}   ({ADMIN_CLIENT}: the console at {api_url}/console, /v1/admin, "
        "the audit log)",
        f"Database:     {describe_database(demo.settings.database_url)} — `gerbang clients …`, `gerbang "
        "audit …` and `gerbang applications …` run from this folder use it too",
        "",
        "Simulators:",
    ]
    lines += [f"  {name:<22} {server.url}" for name, server in demo.simulators.items()]
    lines += ["", "Sample NIKs (synthetic people):"]
    for person in pick_samples(demo.population):
        note = person.life_status if person.in_dukcapil else "unknown to the civil registry"
        lines.append(f"  {person.nik}  {note}")
    first = pick_samples(demo.population)[0]
    auth = shlex.quote("Authorization: Bearer " + demo.api_key)
    context = ["Officer-Id: petugas-01", "Counter-Id: loket-01", "Mpp-Site: mpp-demo"]
    desk = " ".join(f"-H {shlex.quote(h)}" for h in context)  # who reads, at which counter of which MPP
    purposes = sorted(load_purposes().values(), key=lambda purpose: len(purpose.facets))  # stable: ties keep order
    narrowest, widest = purposes[0], purposes[-1]
    lines += ["", f"Try (identity only, then a full record from {len(widest.facets)} agencies at once):"]
    for purpose in (narrowest.name, widest.name):
        url = f"{api_url}/v1/citizens/{first.nik}?purpose={purpose}"
        lines.append(f"  curl -s -H {auth} {desk} {shlex.quote(url)}")
    for name, tour in demo.tours.items():
        lines += tour_lines(name, tour, demo, api_url, [f"Authorization: Bearer {demo.api_key}", *context])
    lines += ["", "Ctrl-C stops everything."]
    return "\n".join(lines)


def tour_lines(name: str, tour: DemoTour, demo: Demo, api_url: str, headers: list[str]) -> list[str]:
    """One agency's tour as curl lines: make its simulator push to the bus, then submit its sample application."""
    auth = shlex.quote(headers[0])
    lines: list[str] = []
    simulator = demo.simulators.get(name)
    if tour.push is not None and simulator is not None:
        order = {"url": f"{api_url}/v1/inbound/{name}/{tour.push_method}", **tour.push}
        lines += [
            "",
            tour.push_note,
            f"  curl -s -X POST -H 'Content-Type: application/json' -d {shlex.quote(json.dumps(order))} "
            f"{shlex.quote(simulator.url + '/_sim/push')}",
            f"  curl -s -H {auth} {shlex.quote(api_url + '/v1/applications?status=received')}",
        ]
    if tour.submission is not None:
        posted = [headers[0], "Content-Type: application/json", f"Idempotency-Key: demo-{name}-1", *headers[1:]]
        flags = " ".join(f"-H {shlex.quote(h)}" for h in posted)
        lines += [
            "",
            tour.submission_note,
            f"  curl -s -X POST {flags} -d {shlex.quote(json.dumps(tour.submission))} "
            f"{shlex.quote(api_url + '/v1/applications')}",
            f"  curl -s -H {auth} {shlex.quote(api_url + '/v1/applications/<id>')}",
        ]
    return lines


def demo_tours(plugins: Mapping[str, ConnectorPlugin], population: Population) -> dict[str, DemoTour]:
    """Each plug-in's demo tour (`ConnectorPlugin.demo`) over the population, for those that bring one."""
    return {name: plugin.demo(population) for name, plugin in plugins.items() if plugin.demo is not None}


def sample_submission(population: Population) -> dict[str, object] | None:
    """The first application an agency's simulator accepts, from the plug-ins' demo tours."""
    for tour in demo_tours(discover(), population).values():
        if tour.submission is not None:
            return dict(tour.submission)
    return None
