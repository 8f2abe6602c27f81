"""The contract every connector keeps, checked against its own simulator over real HTTP on loopback.

One row per promise: the client builds from the simulator's settings; health says up; a known NIK is found and its
fields fit the mapping; an unknown NIK is `not_found`; verify and submit work or say `NotSupported`; the same
idempotency key twice is one submission (same reference, one key in `/_sim/stats`); and every fault mode of the
shared control surface (`POST /_sim/faults`) comes out as the right `AgencyError`. Needs only `connectors/` (and
`mappings/` for the mapping row), never `core/`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.base import (
    AgencyError,
    AgencyProtocolError,
    AgencyTimeout,
    AgencyUnavailable,
    ConnectorPlugin,
    FacetStatus,
    NotSupported,
)
from connectors.contract.samples import Samples, samples_for

SLOW_DELAY_MS = 1000
SLOW_TIMEOUT_S = "0.3"
SEARCH_LIMIT = 60


@dataclass(frozen=True)
class Check:
    """One row of the contract table."""

    name: str
    ok: bool
    detail: str = ""


class _Failed(Exception):
    """A check's expectation was not met; the message is the row's detail."""


Probe = Callable[[], Awaitable[str]]


def run_contract(plugin: ConnectorPlugin, url: str, population: Any, *, samples: Samples | None = None) -> list[Check]:
    """Every contract check of `plugin` against its simulator at `url` (serving `population`)."""
    return asyncio.run(_run(plugin, url, population, samples))


@contextmanager
def simulator_of(plugin: ConnectorPlugin, population: Any) -> Iterator[str]:
    """The plug-in's simulator on loopback for the block; yields its base URL."""
    from connectors.simkit.serving import serving

    if plugin.simulator is None:
        raise ValueError(f"{plugin.name} has no simulator")
    with serving(plugin.simulator(population)) as server:
        yield server.url


def check_connector(plugin: ConnectorPlugin, population: Any | None = None) -> list[Check]:
    """Start the plug-in's own simulator and run the whole contract against it."""
    from connectors.simkit.population import Population

    population = population if population is not None else Population(seed=2024, size=200)
    with _quiet_server_errors(), simulator_of(plugin, population) as url:
        return run_contract(plugin, url, population)


class _HungUp(logging.Filter):
    """Drops the simulator's report of a client that hung up (the slow check's client times out on purpose)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return type(error).__name__ != "ClientDisconnect"


@contextmanager
def _quiet_server_errors() -> Iterator[None]:
    """Hide the traceback a simulator logs when the slow check's client hangs up on it: the row already says
    what happened. Every other server error still shows."""
    logger, hung_up = logging.getLogger("uvicorn.error"), _HungUp()
    logger.addFilter(hung_up)
    try:
        yield
    finally:
        logger.removeFilter(hung_up)


def failures(checks: list[Check]) -> list[Check]:
    return [check for check in checks if not check.ok]


def table(checks: list[Check]) -> str:
    """The rows as a plain-text table (for the CLI and for a failing test's message)."""
    width = max([len(c.name) for c in checks] + [5])
    lines = [f"{'check':<{width}}  result  detail", f"{'-' * width}  ------  ------"]
    lines += [f"{c.name:<{width}}  {'ok' if c.ok else 'FAIL':<6}  {c.detail}" for c in checks]
    return "\n".join(lines)


# --- the checks -----------------------------------------------------------------------------------------------


async def _run(plugin: ConnectorPlugin, url: str, population: Any, samples: Samples | None) -> list[Check]:
    rows: list[Check] = []
    config = dict(plugin.sim_config(url) if plugin.sim_config else {"url": url})
    try:
        samples = samples or samples_for(plugin, population)
    except Exception as exc:  # noqa: BLE001 - a broken sample builder is a failed row, not a crash
        return [Check("samples", False, f"{type(exc).__name__}: {exc}")]
    try:
        client = plugin.create(config)
    except Exception as exc:  # noqa: BLE001
        return [Check("create", False, f"{type(exc).__name__}: {exc}")]
    rows.append(Check("create", True, f"{type(client).__name__} from sim_config"))
    control = httpx.AsyncClient(base_url=url, timeout=10)
    try:

        async def record(name: str, probe: Probe) -> None:
            try:
                rows.append(Check(name, True, await probe()))
            except _Failed as exc:
                rows.append(Check(name, False, str(exc)))
            except Exception as exc:  # noqa: BLE001 - any surprise is this row's failure
                rows.append(Check(name, False, f"{type(exc).__name__}: {exc}"))

        async def fault(mode: str, delay_ms: int = 0) -> None:
            reply = await control.post("/_sim/faults", json={"mode": mode, "delay_ms": delay_ms})
            if reply.status_code != 200:
                raise _Failed(f"simulator refused fault mode {mode!r} (HTTP {reply.status_code})")

        found: dict[str, Any] = {}
        await record("health", lambda: _health(client, up=True))
        await record("lookup found", lambda: _found(client, population, samples, found))
        await record("lookup not found", lambda: _missing(client, samples))
        await record("mapping", lambda: _mapping(plugin, found))
        await record("verify", lambda: _verify(client, samples))
        await record("submit", lambda: _submit(plugin, client, control, samples))
        nik = found.get("nik") or samples.missing
        for mode, expected in (("down", AgencyUnavailable), ("error", AgencyError), ("garbage", AgencyProtocolError)):
            await record(f"fault {mode}", functools.partial(_fault, client, fault, nik, mode, expected))
        await record("fault down: health", lambda: _down_health(client, fault))
        await record("fault slow", lambda: _slow(plugin, config, fault, nik))
        await record("fault ok (recovered)", lambda: _recovered(client, fault, nik))
    finally:
        await control.post("/_sim/reset")
        await control.aclose()
        await client.aclose()
    return rows


async def _health(client: Any, *, up: bool) -> str:
    health = await client.health()
    if health.up != up:
        raise _Failed(f"health says up={health.up} ({health.detail or 'no detail'})")
    return f"up={health.up}" + (f" in {health.latency_ms} ms" if health.latency_ms is not None else "")


async def _found(client: Any, population: Any, samples: Samples, found: dict[str, Any]) -> str:
    candidates = [samples.found] if samples.found else [p.nik for p in population.people[:SEARCH_LIMIT]]
    for nik in candidates:
        result = await client.lookup(nik)
        if result.status == FacetStatus.ok:
            if not result.fields:
                raise _Failed("status ok without fields")
            found.update(nik=nik, fields=result.fields)
            return f"ok, {len(result.fields)} field(s)"
    where = "the sample NIK" if samples.found else f"none of the first {len(candidates)} people"
    raise _Failed(f"{where}: not found (declare ConnectorPlugin.contract with a known NIK)")


async def _missing(client: Any, samples: Samples) -> str:
    result = await client.lookup(samples.missing)
    if result.status != FacetStatus.not_found:
        raise _Failed(f"an unknown NIK gave status {result.status.value}, not not_found")
    return "not_found" + (f" (code {result.agency_code})" if result.agency_code else "")


async def _mapping(plugin: ConnectorPlugin, found: Mapping[str, Any]) -> str:
    from mappings.engine import plugin_mapping

    mapping = plugin_mapping(plugin)
    if mapping.facet != plugin.facet:
        raise _Failed(f"mapping fills facet {mapping.facet!r}, the plug-in declares {plugin.facet!r}")
    if "fields" not in found:
        raise _Failed("no found lookup to map")
    facet = mapping.apply(found["fields"])
    filled = sum(value not in (None, [], {}) for value in facet.model_dump().values())
    return f"{mapping.origin} → {plugin.facet}: {filled} field(s) filled"


async def _verify(client: Any, samples: Samples) -> str:
    if samples.claims is None:
        try:
            await client.verify(samples.found or samples.missing, {"full_name": "X"})
        except NotSupported:
            return "not offered (NotSupported)"
        raise _Failed("verify answered but no sample claims are declared to check it")
    result = await client.verify(samples.found, samples.claims)
    mismatched = [name for name, (matched, _) in result.fields.items() if not matched]
    if not result.found or mismatched:
        raise _Failed(f"found={result.found}; mismatched: {', '.join(mismatched) or '-'}")
    return f"{len(result.fields)} claim(s) matched"


async def _submit(plugin: ConnectorPlugin, client: Any, control: httpx.AsyncClient, samples: Samples) -> str:
    if not plugin.services:
        try:
            await client.submit("contract-check", {}, f"contract-{uuid.uuid4().hex[:12]}")
        except NotSupported:
            return "not offered (NotSupported)"
        raise _Failed("no services declared, yet submit did not raise NotSupported")
    if samples.service is None:
        raise _Failed("services declared but no sample submission (ConnectorPlugin.contract)")
    if samples.service not in plugin.services:
        raise _Failed(f"sample service {samples.service!r} is not in the plug-in's services")
    key = f"contract-{uuid.uuid4().hex[:12]}"
    before = (await control.get("/_sim/stats")).json().get("submissions", {})
    first = await client.submit(samples.service, samples.payload, key)
    again = await client.submit(samples.service, samples.payload, key)
    after = (await control.get("/_sim/stats")).json().get("submissions", {})
    if not first.reference:
        raise _Failed("accepted without a reference")
    if again.reference != first.reference:
        raise _Failed("the same idempotency key gave a second reference")
    new_keys = set(after) - set(before)
    if new_keys != {key}:
        raise _Failed(f"/_sim/stats shows {len(new_keys)} new submission key(s), expected exactly this one")
    return f"reference {first.reference}; same key twice → one submission"


async def _fault(
    client: Any, fault: Callable[..., Awaitable[None]], nik: str, mode: str, expected: type[AgencyError]
) -> str:
    await fault(mode)
    try:
        await client.lookup(nik)
    except expected as exc:
        if mode == "down" and isinstance(exc, AgencyTimeout):
            raise _Failed("down gave a timeout, expected unavailable") from None
        return f"{type(exc).__name__}" + (f" (code {exc.code})" if exc.code else "")
    except AgencyError as exc:
        raise _Failed(f"raised {type(exc).__name__}, expected {expected.__name__}") from None
    finally:
        await fault("ok")
    raise _Failed(f"lookup succeeded in mode {mode!r}")


async def _down_health(client: Any, fault: Callable[..., Awaitable[None]]) -> str:
    await fault("down")
    try:
        return await _health(client, up=False)
    finally:
        await fault("ok")


async def _slow(
    plugin: ConnectorPlugin, config: Mapping[str, str], fault: Callable[..., Awaitable[None]], nik: str
) -> str:
    """A reply later than the client's timeout is AgencyTimeout (a fresh client with a short `timeout_s`)."""
    hurried = plugin.create({**config, "timeout_s": SLOW_TIMEOUT_S})
    await fault("slow", SLOW_DELAY_MS)
    try:
        await hurried.lookup(nik)
    except AgencyTimeout:
        return f"AgencyTimeout after {SLOW_TIMEOUT_S} s (reply delayed {SLOW_DELAY_MS} ms)"
    except AgencyError as exc:
        raise _Failed(f"raised {type(exc).__name__}, expected AgencyTimeout") from None
    finally:
        await fault("ok")
        await hurried.aclose()
    raise _Failed("lookup succeeded despite the delay")


async def _recovered(client: Any, fault: Callable[..., Awaitable[None]], nik: str) -> str:
    await fault("ok")
    result = await client.lookup(nik)
    return f"lookup answers again ({result.status.value})"
