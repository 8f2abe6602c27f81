"""One person per application: the envelope's NIK is the applicant, and the payload may name no one else.

Why: the audit log and the application row record the envelope's NIK (as a keyed hash) while the agency acts on
the payload; were they allowed to differ, the log would say one person applied while the agency received another's
application. Where a service's schema names the citizen — a top-level `nik` property, or any property marked
`"x-gerbang-citizen": true` — the payload's value must equal the envelope's, and when the payload leaves it out,
Gerbang fills it in, so the envelope's NIK is the only one a counter needs to send.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MARK = "x-gerbang-citizen"
"""Schema annotation for a property (other than `nik`) whose value is the applicant's NIK."""


def citizen_fields(schema: Mapping[str, Any]) -> list[str]:
    """The top-level payload properties that name the applicant by NIK."""
    properties = schema.get("properties") or {}
    return [
        name
        for name, spec in properties.items()
        if name == "nik" or (isinstance(spec, Mapping) and spec.get(MARK) is True)
    ]


def one_person(schema: Mapping[str, Any], payload: Mapping[str, Any], nik: str) -> tuple[dict[str, Any], list[str]]:
    """(`payload` with `nik` filled into the citizen fields it leaves out, the citizen fields naming someone else)."""
    filled = dict(payload)
    others = []
    for name in citizen_fields(schema):
        if name not in filled:
            filled[name] = nik
        elif filled[name] != nik:
            others.append(name)
    return filled, others
