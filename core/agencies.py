"""Wire the installed connectors to their settings: one client and one mapping per configured agency.

An agency is active when `GERBANG_AGENCY_<NAME>_URL` is set (the demo sets them to its simulators). Connectors and
mappings are loaded once per process and shared by every request. Each connector is wrapped twice: a circuit
breaker outside (an agency that keeps failing is not called), and inside it the agency's concurrency limit shared
across processes (core/security/concurrency.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.pool import NullPool

from connectors.base import ConnectorPlugin
from connectors.breaker import BreakerConnector, CircuitBreaker
from connectors.registry import discover
from core.db.engine import make_engine
from core.ops.calls import observer
from core.security.concurrency import AgencyLimits, LimitedConnector
from core.settings import Settings
from identity.record import Agency
from mappings.engine import plugin_mapping

log = logging.getLogger(__name__)


@dataclass
class AgencyRegistry:
    """The active agencies of this process, by name and by facet."""

    plugins: dict[str, ConnectorPlugin]
    active: dict[str, Agency]
    breakers: dict[str, CircuitBreaker]
    urls: dict[str, str]
    limits: AgencyLimits | None = None

    def __post_init__(self) -> None:
        self._by_facet = {agency.facet: agency for agency in self.active.values()}

    def by_facet(self) -> dict[str, Agency]:
        return self._by_facet

    def freshness(self, settings: Settings) -> dict[str, float]:
        """Cache freshness per agency: GERBANG_AGENCY_<NAME>_FRESHNESS_S, else the global setting."""
        return {
            name: float(settings.agency(name).get("freshness_s", settings.cache_freshness_s)) for name in self.active
        }

    async def aclose(self) -> None:
        for agency in self.active.values():
            await agency.connector.aclose()
        if self.limits is not None:
            self.limits.stop()


def build_registry(settings: Settings, plugins: Mapping[str, ConnectorPlugin] | None = None) -> AgencyRegistry:
    """Create a connector for every installed plug-in that has a URL in the settings."""
    plugins = dict(plugins if plugins is not None else discover())
    active: dict[str, Agency] = {}
    breakers: dict[str, CircuitBreaker] = {}
    urls: dict[str, str] = {}
    configured = {name: settings.agency(name) for name in plugins}
    limits = AgencyLimits(
        lambda: make_engine(settings.database_url, poolclass=NullPool),
        {name: concurrency_of(settings, config) for name, config in configured.items() if config.get("url")},
        settings.census_interval_s,
    )
    for name, plugin in plugins.items():
        config = configured[name]
        if not config.get("url"):
            continue
        config.setdefault("timeout_s", str(settings.agency_timeout_s))
        breakers[name] = CircuitBreaker(name, settings.breaker_threshold, settings.breaker_reset_s)
        urls[name] = config["url"]
        limited = LimitedConnector(plugin.create(config), limits, name)
        guarded = BreakerConnector(limited, breakers[name], observer(name))
        active[name] = Agency(
            name=name, facet=plugin.facet, connector=guarded, mapping=plugin_mapping(plugin, config.get("mapping"))
        )
    return AgencyRegistry(plugins=plugins, active=active, breakers=breakers, urls=urls, limits=limits)


def concurrency_of(settings: Settings, config: Mapping[str, str]) -> int:
    """An agency's limit on calls in flight: GERBANG_AGENCY_<NAME>_CONCURRENCY, else the global setting."""
    raw = config.get("concurrency")
    if raw in (None, ""):
        return settings.agency_concurrency
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"concurrency must be a whole number, not {raw!r}") from None
    if value < 1:
        raise ValueError("concurrency must be at least 1")
    return value
