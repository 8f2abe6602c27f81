"""Dukcapil, the civil registry: the root of identity (REST JSON `CALL_NIK`, `CALL_VERIFY_BY_ELEMEN`; read-only)."""

from __future__ import annotations

from collections.abc import Mapping

from connectors.base import ConnectorPlugin, lazy
from connectors.dukcapil.client import DukcapilClient


def create(config: Mapping[str, str]) -> DukcapilClient:
    """A client from its settings (url, institution, user, password, ip, optional timeout_s and threshold)."""
    return DukcapilClient(config)


PLUGIN = ConnectorPlugin(
    name="dukcapil",
    title="Dukcapil (civil registry)",
    facet="identity",
    mapping="dukcapil",
    create=create,
    simulator=lazy("connectors.dukcapil.simulator", "simulator"),
    sim_config=lazy("connectors.dukcapil.simulator", "sim_config"),
    protocol="rest",
)
