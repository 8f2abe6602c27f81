"""Sample inputs the contract kit sends to a simulator: a NIK it knows, one it does not, and a submission it accepts.

A connector declares them with `ConnectorPlugin.contract` (a function of the simulator's population returning
{"found": NIK, "missing": NIK, "service": name, "payload": {...}, "claims": {...}}; every key optional): an agency
declared with `agency_plugin` has its simulator's `contract_samples`. Without any, the kit finds a known NIK itself
by looking people up, and cannot test a submission.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import ConnectorPlugin


@dataclass(frozen=True)
class Samples:
    """What the kit asks: `found` (None: search the population), `missing`, an accepted submission, verify claims."""

    missing: str
    found: str | None = None
    service: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    claims: Mapping[str, Any] | None = None


def unknown_nik(population: Any) -> str:
    """A well-formed NIK no simulator knows: a real person's region and birth date with a serial nobody has."""
    base = population.people[0].nik
    for serial in range(9999, 0, -1):
        nik = f"{base[:12]}{serial:04d}"
        if population.by_nik(nik) is None:
            return nik
    raise ValueError("the population uses every serial of its first person's region and date")


def samples_for(plugin: ConnectorPlugin, population: Any) -> Samples:
    """The samples `plugin` declares, else only a missing NIK."""
    declared = dict(plugin.contract(population) or {}) if plugin.contract is not None else {}
    return Samples(
        missing=declared.get("missing") or unknown_nik(population),
        found=declared.get("found"),
        service=declared.get("service"),
        payload=declared.get("payload") or {},
        claims=declared.get("claims"),
    )
