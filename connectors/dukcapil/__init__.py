"""Dukcapil, the civil registry: the root of identity (REST JSON `CALL_NIK`, `CALL_VERIFY_BY_ELEMEN`; read-only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import ConnectorPlugin
from connectors.dukcapil.client import DukcapilClient


def create(config: Mapping[str, str]) -> DukcapilClient:
    """A client from its settings (url, institution, user, password, ip, optional timeout_s and threshold)."""
    return DukcapilClient(config)


def simulator(population: Any, **options: Any) -> Any:
    """The Dukcapil simulator app (imported lazily: the bus need not load FastAPI routes to talk to Dukcapil)."""
    from connectors.dukcapil.simulator import simulator as build

    return build(population, **options)


def sim_config(base_url: str) -> dict[str, str]:
    """Client settings matching a simulator started with its defaults at `base_url`."""
    from connectors.dukcapil.simulator import sim_config as config

    return config(base_url)


PLUGIN = ConnectorPlugin(
    name="dukcapil",
    title="Dukcapil (civil registry)",
    facet="identity",
    mapping="dukcapil",
    create=create,
    simulator=simulator,
    sim_config=sim_config,
    protocol="rest",
)
