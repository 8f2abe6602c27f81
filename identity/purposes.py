"""Purposes are declared data (`purposes.yaml`): each names the facets a lookup for it may see."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

ROOT_FACET = "identity"


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
        facets = tuple(spec["facets"])
        if ROOT_FACET not in facets:
            raise ValueError(f"purpose {name!r} must include the {ROOT_FACET!r} facet")
        purposes[name] = Purpose(name=name, title=spec["title"], facets=facets)
    return purposes
