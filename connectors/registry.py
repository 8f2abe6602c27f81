"""Discovery of installed connectors through the `gerbang.connectors` entry-point group.

An agency packaged on its own registers `[project.entry-points."gerbang.connectors"] name = "pkg:PLUGIN"` and is
found here without any change to Gerbang's core.
"""

from __future__ import annotations

import functools
import logging
from importlib.metadata import entry_points

from connectors.base import ConnectorPlugin
from identity.model import ROOT_FACET

GROUP = "gerbang.connectors"
log = logging.getLogger(__name__)


def discover() -> dict[str, ConnectorPlugin]:
    """Every installed connector plugin by name; a broken plug-in is logged and skipped, never fatal."""
    plugins: dict[str, ConnectorPlugin] = {}
    for entry in entry_points(group=GROUP):
        try:
            plugin = entry.load()
        except Exception:  # a third-party plug-in must not take the bus down
            log.exception("connector plug-in %s failed to load", entry.name)
            continue
        if not isinstance(plugin, ConnectorPlugin):
            log.error("entry point %s is not a ConnectorPlugin", entry.name)
            continue
        if plugin.name in plugins:
            log.error("connector %s registered twice; keeping the first", plugin.name)
            continue
        plugins[plugin.name] = plugin
    return dict(sorted(plugins.items()))


@functools.cache
def root_agency() -> str:
    """The agency whose plug-in fills the root facet (the civil registry): what a read that stops at the root of
    identity, and a verification, are counted and audited under. The facet's name when no plug-in fills it."""
    return next((name for name, plugin in discover().items() if plugin.facet == ROOT_FACET), ROOT_FACET)
