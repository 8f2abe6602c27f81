"""The mapping engine's entry points: load a declarative agency → canonical mapping (YAML), and apply it.

A mapping is checked against the facet's pydantic model when it is loaded (`mappings.compiler`), so a typo in a
canonical field or a transform name fails at start-up, not on the first citizen. Applying it (`mappings.apply`)
never puts an agency value in an error message: those values are personal data. The file format is documented
in `mappings/README.md`.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from identity.model import facet_model
from mappings.apply import build, describe
from mappings.compiler import compile_fields, sources_of
from mappings.plan import MappingError, Plan

_TOP_KEYS = {"agency", "facet", "description", "fields"}
_NAME = re.compile(r"[a-z0-9_]+")


@dataclass(frozen=True, eq=False)
class Mapping:
    """A loaded, checked mapping of one agency's fields onto one canonical facet model."""

    agency: str
    facet: str
    model: type[BaseModel]
    origin: str  # the file, for messages
    plan: Plan
    sources: frozenset[str]  # agency fields read; list items as "<list>[].<field>"
    description: str | None = None

    def apply(self, fields: abc.Mapping[str, Any]) -> BaseModel:
        """Map one agency record onto the facet model; MappingError (naming fields, not values) if impossible."""
        if not isinstance(fields, abc.Mapping):
            raise MappingError(f"{self.origin}: expected the agency fields as an object, got {type(fields).__name__}")
        data = build(self.plan, fields, self.origin, "", "")
        try:
            return self.model.model_validate(data)
        except ValidationError as exc:
            raise MappingError(f"{self.origin}: {describe(exc, self.plan)}") from None


# --- loading ----------------------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that rejects a key given twice (PyYAML silently keeps the last one: a mapped field would vanish)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


@functools.cache
def load_mapping(name: str) -> Mapping:
    """The mapping `mappings/<name>.yaml` shipped with Gerbang (read via importlib.resources), loaded once."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise MappingError(f"not a mapping name: {name!r} (lower-case letters, digits, underscores)")
    resource = importlib.resources.files("mappings").joinpath(f"{name}.yaml")
    if not resource.is_file():
        raise MappingError(f"no mapping named {name!r} (mappings/{name}.yaml)")
    return parse_mapping(resource.read_text(encoding="utf-8"), origin=f"mappings/{name}.yaml")


def load_mapping_file(path: str | Path) -> Mapping:
    """A mapping from any file, e.g. one shipped by an out-of-tree connector (not cached)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"{path}: cannot read mapping file ({exc.strerror})") from None
    return parse_mapping(text, origin=str(path))


def plugin_mapping(plugin: Any, chosen: str | None = None) -> Mapping:
    """A connector plug-in's mapping: `chosen` if the deployment names one (the `mapping` setting: a name in
    `mappings/` or a file path; e.g. another province's Samsat reply shape), else the file it ships (`mapping_path`,
    for connectors packaged on their own, which cannot add files to `mappings/`), else `mappings/<mapping>.yaml`.
    A chosen mapping must fill the plug-in's facet."""
    if chosen is not None and str(chosen).strip():
        text = str(chosen).strip()
        mapping = load_mapping(text) if _NAME.fullmatch(text) else load_mapping_file(text)
        if mapping.facet != plugin.facet:
            raise MappingError(f"{mapping.origin} fills facet {mapping.facet!r}, {plugin.name} fills {plugin.facet!r}")
        return mapping
    path = getattr(plugin, "mapping_path", None)
    return load_mapping_file(path) if path else load_mapping(plugin.mapping)


def parse_mapping(text: str, origin: str = "<mapping>") -> Mapping:
    """Parse and check mapping YAML text; `origin` names it in errors."""
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise MappingError(f"{origin}: invalid YAML{where}: {problem}") from None
    return build_mapping(document, origin)


def build_mapping(document: Any, origin: str = "<mapping>") -> Mapping:
    """Check an already-parsed mapping document and compile it."""
    if not isinstance(document, dict):
        raise MappingError(f"{origin}: a mapping file must be an object with agency, facet and fields")
    unknown = set(document) - _TOP_KEYS
    if unknown:
        raise MappingError(f"{origin}: unknown top-level key(s): {', '.join(sorted(map(str, unknown)))}")
    for key in ("agency", "facet"):
        if not isinstance(document.get(key), str) or not document[key].strip():
            raise MappingError(f"{origin}: '{key}' is required and must be text")
    description = document.get("description")
    if description is not None and not isinstance(description, str):
        raise MappingError(f"{origin}: 'description' must be text")
    try:
        model = facet_model(document["facet"])
    except KeyError as exc:
        raise MappingError(f"{origin}: {exc.args[0]}") from None
    fields = document.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise MappingError(f"{origin}: 'fields' is required and must map canonical fields to source specs")
    plan = compile_fields(fields, model, origin, "")
    return Mapping(
        agency=document["agency"].strip(),
        facet=document["facet"],
        model=model,
        origin=origin,
        plan=plan,
        sources=frozenset(sources_of(plan, "")),
        description=description,
    )
