"""Wire the installed connectors to their settings: one client and one mapping per configured agency.

An agency is active when `GERBANG_AGENCY_<NAME>_URL` is set (the demo sets them to its simulators). Connectors and
mappings are loaded once per process and shared by every request.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from connectors.base import ConnectorPlugin
from connectors.breaker import BreakerConnector, CircuitBreaker
from connectors.registry import discover
from core.settings import Settings
from identity.record import Agency
from mappings.engine import load_mapping

log = logging.getLogger(__name__)


@dataclass
class AgencyRegistry:
    """The active agencies of this process, by name and by facet."""

    plugins: dict[str, ConnectorPlugin]
    active: dict[str, Agency]
    breakers: dict[str, CircuitBreaker]
    urls: dict[str, str]

    def __post_init__(self) -> None:
        self._by_facet = {agency.facet: agency for agency in self.active.values()}

    def by_facet(self) -> dict[str, Agency]:
        return self._by_facet

    def freshness(self, settings: Settings) -> dict[str, float]:
        """Cache freshness per agency: GERBANG_AGENCY_<NAME>_FRESHNESS_S, else the global setting."""
        return {name: float(settings.agency(name).get("freshness_s", settings.cache_freshness_s))
                for name in self.active}

    async def aclose(self) -> None:
        for agency in self.active.values():
            await agency.connector.aclose()


def build_registry(settings: Settings, plugins: Mapping[str, ConnectorPlugin] | None = None) -> AgencyRegistry:
    """Create a connector for every installed plug-in that has a URL in the settings."""
    plugins = dict(plugins if plugins is not None else discover())
    active: dict[str, Agency] = {}
    breakers: dict[str, CircuitBreaker] = {}
    urls: dict[str, str] = {}
    for name, plugin in plugins.items():
        config = settings.agency(name)
        if not config.get("url"):
            continue
        config.setdefault("timeout_s", str(settings.agency_timeout_s))
        breakers[name] = CircuitBreaker(name, settings.breaker_threshold, settings.breaker_reset_s)
        urls[name] = config["url"]
        active[name] = Agency(name=name, facet=plugin.facet,
                              connector=BreakerConnector(plugin.create(config), breakers[name]),
                              mapping=load_mapping(plugin.mapping))
    return AgencyRegistry(plugins=plugins, active=active, breakers=breakers, urls=urls)
