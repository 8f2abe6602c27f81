"""Purposes are declared data: each names the facets a lookup for it may see.

`purposes.yaml` holds the root purposes (only the root facet); every connector plug-in adds the purposes that may
read its facet through `ConnectorPlugin.purposes`, so a new agency needs no edit here; it cannot redefine a purpose
already declared.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from identity.model import ROOT_FACET

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purpose:
    """A stated reason to read a record, and the facets it allows."""

    name: str
    title: str
    facets: tuple[str, ...]


@lru_cache(maxsize=1)
def load_purposes() -> dict[str, Purpose]:
    """All declared purposes by name (read once from the packaged YAML)."""
    raw = yaml.safe_load(resources.files("identity").joinpath("purposes.yaml").read_text(encoding="utf-8"))
    purposes: dict[str, Purpose] = {}
    for name, spec in raw.items():
        purposes[name] = purpose_of(name, spec)
    for name, spec in plugin_purposes().items():
        try:
            if name in purposes:
                raise ValueError("that name is already declared")
            purposes[name] = purpose_of(name, spec)
        except (KeyError, TypeError, ValueError) as exc:  # a third-party plug-in must not take the bus down
            log.error("purpose %r declared by a connector plug-in is ignored: %s", name, exc)
    return purposes


def purpose_of(name: str, spec: Mapping[str, object]) -> Purpose:
    """One purpose from its declaration {title, facets}; it must include the root facet."""
    declared = spec["facets"]
    facets = tuple(facet for facet in declared if isinstance(facet, str)) if isinstance(declared, list) else ()
    if not isinstance(declared, list) or len(facets) != len(declared):
        raise ValueError(f"purpose {name!r}: facets must be names")
    if ROOT_FACET not in facets:
        raise ValueError(f"purpose {name!r} must include the {ROOT_FACET!r} facet")
    return Purpose(name=name, title=str(spec["title"]), facets=facets)


def plugin_purposes() -> dict[str, Mapping[str, object]]:
    """Purposes declared by installed connector plug-ins (`ConnectorPlugin.purposes`)."""
    from connectors.registry import discover

    declared: dict[str, Mapping[str, object]] = {}
    for plugin in discover().values():
        if not isinstance(plugin.purposes, Mapping):
            log.error("connector plug-in %s: purposes must be a mapping; ignored", plugin.name)
            continue
        declared.update(plugin.purposes)
    return declared
