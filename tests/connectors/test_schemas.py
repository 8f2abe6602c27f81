"""Every payload schema of every installed connector is bounded and carries examples that pass it.

Bounded: a `pattern` is run over whatever string arrives, so a patterned string without `maxLength` let a 48 KB
Samsat plate hold the event loop for 8.5 s; every string needs a `maxLength` (or an `enum`/`const`), every array a
`maxItems`. The walk is generic (all connectors found through the entry points, every service, every subschema),
so a service added later is held to the same rule. That the simulators accept the examples is shown in
tests/core/api/test_agency_examples.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from connectors.registry import discover
from core.bus.service import schema_errors

SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
SUBSCHEMA_ONE = ("items", "additionalProperties", "contains", "not", "if", "then", "else", "propertyNames",
                 "unevaluatedItems", "unevaluatedProperties")
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")

SERVICES = [(agency, service, schema) for agency, plugin in discover().items()
            for service, schema in plugin.services.items()]
IDS = [f"{agency}.{service}" for agency, service, _ in SERVICES]


def subschemas(schema: Mapping[str, Any], path: str = "#") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The schema and every schema inside it, with a JSON pointer to each."""
    yield path, schema
    for key in SUBSCHEMA_MAPS:
        for name, sub in (schema.get(key) or {}).items():
            if isinstance(sub, Mapping):
                yield from subschemas(sub, f"{path}/{key}/{name}")
    for key in SUBSCHEMA_ONE:
        if isinstance(schema.get(key), Mapping):
            yield from subschemas(schema[key], f"{path}/{key}")
    for key in SUBSCHEMA_LISTS:
        for index, sub in enumerate(schema.get(key) or []):
            if isinstance(sub, Mapping):
                yield from subschemas(sub, f"{path}/{key}/{index}")


def types_of(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type")
    return set(declared) if isinstance(declared, list) else {declared} if isinstance(declared, str) else set()


def unbounded(schema: Mapping[str, Any]) -> list[str]:
    """Where the schema lets a string or an array grow without limit (a pattern without maxLength first of all)."""
    found = []
    for path, sub in subschemas(schema):
        closed = "enum" in sub or "const" in sub
        if "pattern" in sub and "maxLength" not in sub:
            found.append(f"{path}: pattern without maxLength")
        elif "string" in types_of(sub) and "maxLength" not in sub and not closed:
            found.append(f"{path}: string without maxLength")
        if "array" in types_of(sub) and "maxItems" not in sub and not closed:
            found.append(f"{path}: array without maxItems")
    return found


def test_the_walk_finds_what_is_unbounded_anywhere() -> None:
    schema = {"type": "object", "properties": {
        "plate": {"type": "string", "pattern": "^[A-Z ]+$"},
        "name": {"type": "string", "maxLength": 10},
        "kind": {"type": "string", "enum": ["A", "C"]},
        "notes": {"type": ["string", "null"]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}},
        "codes": {"type": "array", "maxItems": 3, "items": {"pattern": "^[0-9]+$"}}},
        "if": {"properties": {"kind": {"const": "A"}}},
        "then": {"properties": {"npp": {"type": "string", "pattern": "^[0-9]{8}$"}}},
        "anyOf": [{"properties": {"x": {"type": "string"}}}]}
    assert unbounded(schema) == ["#/properties/plate: pattern without maxLength",
                                 "#/properties/notes: string without maxLength",
                                 "#/properties/tags: array without maxItems",
                                 "#/properties/codes/items: pattern without maxLength",
                                 "#/then/properties/npp: pattern without maxLength",
                                 "#/anyOf/0/properties/x: string without maxLength"]


def test_there_are_services_to_walk() -> None:
    assert {"oss", "samsat", "imigrasi", "korlantas", "bpjs_kesehatan", "bpjs_ketenagakerjaan"} <= {
        agency for agency, _, _ in SERVICES}


@pytest.mark.parametrize(("agency", "service", "schema"), SERVICES, ids=IDS)
def test_every_string_and_array_is_bounded(agency: str, service: str, schema: Mapping[str, Any]) -> None:
    assert unbounded(schema) == []


@pytest.mark.parametrize(("agency", "service", "schema"), SERVICES, ids=IDS)
def test_every_service_has_examples_that_pass_its_schema(agency: str, service: str,
                                                         schema: Mapping[str, Any]) -> None:
    examples = schema.get("examples")
    assert isinstance(examples, list) and examples, f"{agency}.{service} has no examples"
    for example in examples:
        assert schema_errors(schema, example) == [], example


def test_a_huge_plate_is_refused_at_once() -> None:
    schema = discover()["samsat"].services["pkb_payment"]
    payload = {"nik": "3603282512770002", "plate": " " * 48_000 + "B", "year": 2026}
    started = time.perf_counter()
    errors = schema_errors(schema, payload)
    assert time.perf_counter() - started < 0.2
    assert [e["rule"] for e in errors] == ["maxLength"]
