"""The WSDL-dependent pieces of a SOAP scaffold, as Python and YAML source text: reply builders for the simulator,
payload schemas for the client, and the facet fields and mapping lines the lookup reply suggests.

Values are guesses from element names (a `nama` is the person's name, a `tanggalLahir` their birth date) and XSD
types; the engineer replaces them with the agency's real data and rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

from connectors.scaffold.wsdl import Leaf, Operation, Service, WsdlError

SKIPPED_IN_FACET = {"nik", "koderespon", "kode", "pesan", "message", "responsecode", "status_code"}
_DEFAULTS = {
    "string": '"CONTOH"',
    "date": "SAMPLE_DATE",
    "datetime": "dt.datetime.now(dt.timezone.utc).replace(microsecond=0)",
    "int": '"1"',
    "decimal": '"0.00"',
    "bool": '"true"',
}


def snake(name: str) -> str:
    """`DaftarAnggota` → `daftar_anggota`, `tanggalLahir` → `tanggal_lahir`."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "field"


def _key(name: str) -> str:
    return name.lower().replace("_", "")


def role(leaf: Leaf) -> str | None:
    """What a simple element probably holds about the person: nik, name, birth_date, birth_place, sex, code."""
    key = _key(leaf.name)
    if key == "nik":
        return "nik"
    if leaf.kind == "date" and ("lahir" in key or "birth" in key):
        return "birth_date"
    if leaf.kind == "string" and ("tempatlahir" in key or "birthplace" in key):
        return "birth_place"
    if leaf.kind == "string" and key in {"nama", "name", "namalengkap", "fullname"}:
        return "name"
    if leaf.kind == "string" and key in {"jeniskelamin", "sex", "gender"}:
        return "sex"
    if leaf.kind == "string" and key in {"koderespon", "responsecode", "kode", "code"}:
        return "code"
    return None


_PERSON = {
    "nik": "person.nik",
    "name": "person.name",
    "birth_date": "person.birth_date",
    "birth_place": "person.birth_place",
    "sex": "person.sex",
    "code": '"00"',
}


class Fill(NamedTuple):
    """Where a reply's values come from: the person on file (a lookup), the request's elements of the same name
    (`echo`), the agency's reference (a submission's `reference` element); else a sample value."""

    person: bool
    echo: set[str]
    reference: str | None


def _value(leaf: Leaf, fill: Fill) -> str:
    if leaf.name == fill.reference:
        return "reference"
    kind = role(leaf)
    if fill.person and kind in _PERSON:
        return _PERSON[kind]
    if kind == "code":
        return '"00"'
    if leaf.name in fill.echo:
        return f'request.text("{leaf.name}")'
    return _DEFAULTS[leaf.kind]


def element(leaf: Leaf, indent: int, fill: Fill) -> str:
    """`b.el(...)` building `leaf` (one item when repeated), children in the WSDL's order."""
    pad = " " * indent
    if leaf.kind != "complex":
        return f'{pad}b.el("{leaf.name}", {_value(leaf, fill)}),'
    inner = "\n".join(element(child, indent + 4, fill) for child in leaf.children)
    return f'{pad}b.el("{leaf.name}", children=[\n{inner}\n{pad}]),'


def reply(op: Operation, indent: int, fill: Fill) -> str:
    pad = " " * indent
    inner = "\n".join(element(leaf, indent + 4, fill) for leaf in op.outputs)
    return f'b.el("{op.response}", children=[\n{inner}\n{pad}])' if inner else f'b.el("{op.response}")'


def reference_of(op: Operation) -> str:
    """The reply element that carries the agency's reference for a submission."""
    simple = [leaf for leaf in op.outputs if leaf.kind != "complex" and not leaf.repeated and role(leaf) != "code"]
    for leaf in simple:
        if any(word in _key(leaf.name) for word in ("nomor", "reference", "ref", "number", "id", "registrasi")):
            return leaf.name
    strings = [leaf for leaf in simple if leaf.kind == "string"]
    if not strings:
        raise WsdlError(f"the reply of {op.name} has no text element to carry the agency's reference")
    return strings[0].name


@dataclass(frozen=True)
class SoapParts:
    handlers: str
    operations: str
    schemas: str
    submissions: str
    lookup_contract: str
    sample_submission: str
    facet_fields: str
    mapping_fields: str
    facet_imports: str


def _nik_name(op: Operation) -> str:
    return next(leaf.name for leaf in op.inputs if leaf.name.lower() == "nik")


def handlers(service: Service) -> tuple[str, str]:
    """(handler functions, the `operations` dict body) of the simulator."""
    lookup = service.lookup
    nik = _nik_name(lookup)
    fn = snake(lookup.name)
    parts = [
        f'''def {fn}(call: Call[Any]) -> etree._Element:
    """{lookup.name}: the person on file, or a Client fault with code NOT_FOUND_CODE."""
    person = known(call.state, call.request.text("{nik}"))
    if person is None:
        raise client_fault("data tidak ditemukan", kode=NOT_FOUND_CODE)
    return {reply(lookup, 4, Fill(person=True, echo=set(), reference=None))}
'''
    ]
    ops = [f'    "{lookup.name}": {fn},']
    if service.health is not None:
        fn = snake(service.health.name)
        parts.append(f'''def {fn}(call: Call[Any]) -> etree._Element:
    """{service.health.name}: the cheap call health checks use."""
    return {reply(service.health, 4, Fill(person=False, echo=set(), reference=None))}
''')
        ops.append(f'    "{service.health.name}": {fn},')
    for op in service.submissions:
        fn = snake(op.name)
        echo = {leaf.name for leaf in op.inputs if leaf.kind != "complex"}
        parts.append(f'''def {fn}(call: Call[Any]) -> etree._Element:
    """{op.name}: accepted once per idempotency key (a repeat answers the first reply)."""
    key = idempotency_key(call.request)
    if not key:
        raise client_fault("header IdempotencyKey wajib diisi", kode="REQ-01")
    return call.replies.once(key, lambda: accept_{fn}(key, call.request))


def accept_{fn}(key: str, request: SoapRequest) -> etree._Element:
    """A new {op.name}. TODO: the agency's business rules (who may apply, what must match Dukcapil) go here, as
    client_fault(...)."""
    reference = reference_for(key)
    return {reply(op, 4, Fill(person=False, echo=echo, reference=reference_of(op)))}
''')
        ops.append(f'    "{op.name}": {fn},')
    return "\n\n".join(parts), "\n".join(ops)


_SCHEMA_TYPES = {
    "string": '{"type": "string", "minLength": 1, "maxLength": 200}',
    "date": '{"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "maxLength": 10}',
    "datetime": '{"type": "string", "maxLength": 40}',
    "int": '{"type": "integer"}',
    "decimal": '{"type": "string", "pattern": "^-?[0-9]+(\\\\.[0-9]+)?$", "maxLength": 40}',
    "bool": '{"type": "boolean"}',
    "complex": '{"type": "object"}',
}


def _schema_type(leaf: Leaf) -> str:
    if role(leaf) == "nik":
        text = '{"type": "string", "pattern": "^[0-9]{16}$", "maxLength": 16}'
    else:
        text = _SCHEMA_TYPES[leaf.kind]
    return f'{{"type": "array", "maxItems": 100, "items": {text}}}' if leaf.repeated else text


_EXAMPLE_ROLE = {"nik": "nik", "name": "name", "birth_place": "birth_place", "sex": "sex"}
_EXAMPLE_KIND: dict[str, Any] = {
    "string": "CONTOH",
    "date": "2025-01-02",
    "datetime": "2025-01-02T00:00:00Z",
    "int": 1,
    "decimal": "1",
    "bool": True,
}


@cache
def demo_person() -> Any:
    """The demo population's first person (`gerbang demo`, seed 2024): whom a schema's example is about."""
    from connectors.simkit.population import Population

    return Population(seed=2024, size=100).people[0]


def example_value(leaf: Leaf) -> Any:
    """A value for an input element in the schema's example: the demo person's data where the name says so, the
    required children of a complex element, a list of one for a repeated one."""
    person, kind = demo_person(), role(leaf)
    if leaf.kind == "complex":
        value: Any = {child.name: example_value(child) for child in leaf.children if child.required}
    elif kind == "birth_date":
        value = person.birth_date.isoformat()
    elif kind in _EXAMPLE_ROLE:
        value = getattr(person, _EXAMPLE_ROLE[kind])
    else:
        value = _EXAMPLE_KIND[leaf.kind]
    return [value] if leaf.repeated else value


def schemas(service: Service) -> tuple[str, str]:
    """(schema constants, SUBMISSIONS body) of the client: per service its operation, schema and reference."""
    blocks, submissions = [], []
    for op in service.submissions:
        const = snake(op.name).upper() + "_SCHEMA"
        required = ", ".join(f'"{leaf.name}"' for leaf in op.inputs if leaf.required)
        props = "\n".join(f'        "{leaf.name}": {_schema_type(leaf)},' for leaf in op.inputs)
        example = {leaf.name: example_value(leaf) for leaf in op.inputs if leaf.required}
        blocks.append(f'''{const} = payload_schema(
    "{op.name}",
    [{required}],
    properties={{
{props}
    }},
    examples=[{example!r}],
)
''')
        submissions.append(
            f'\n    "{snake(op.name)}": SoapSubmission(\n        "{op.name}", {const}, reference="{reference_of(op)}", '
            "key_header=IDEMPOTENCY_HEADER, code_element=None\n    ),"
        )
    return "\n".join(blocks), "".join(submissions) + ("\n" if submissions else "")


_SAMPLE = {
    "nik": "person.nik",
    "name": "person.name",
    "birth_date": "person.birth_date.isoformat()",
    "birth_place": "person.birth_place",
    "sex": "person.sex",
}
_SAMPLE_KIND = {
    "string": '"CONTOH"',
    "date": "dt.date.today().isoformat()",
    "datetime": '"2024-01-02T00:00:00Z"',
    "int": "1",
    "decimal": '"1"',
    "bool": "True",
    "complex": "{}",
}


def _sample(leaf: Leaf) -> str:
    """A sample value for an input element as Python source: the person's data where the name says so, a
    structure of its required children for a complex element, a list of one for a repeated one."""
    if leaf.kind == "complex":
        value = "{" + ", ".join(f'"{child.name}": {_sample(child)}' for child in leaf.children if child.required) + "}"
    else:
        value = _SAMPLE.get(role(leaf) or "", _SAMPLE_KIND[leaf.kind])
    return f"[{value}]" if leaf.repeated else value


def sample_submission(service: Service) -> str:
    if not service.submissions:
        return ""
    op = service.submissions[0]
    items = ", ".join(f'"{leaf.name}": {_sample(leaf)}' for leaf in op.inputs if leaf.required)
    return f', "service": "{snake(op.name)}",\n            "payload": {{{items}}}'


def lookup_contract(service: Service) -> str:
    """The client's `LookupContract(...)` arguments: the lookup and health operations, the NIK argument, not found
    as a Client fault, and sample values for the lookup's other required inputs."""
    extra = {leaf.name: example_value(leaf) for leaf in service.lookup.inputs if leaf.required}
    nik = _nik_name(service.lookup)
    extra.pop(nik)
    health = f'"{service.health.name}"' if service.health else "None"
    arguments = f", arguments={extra!r}" if extra else ""
    return (
        f'\n        "{service.lookup.name}", health_operation={health}, nik_argument="{nik}", code_element=None,'
        f"\n        not_found_fault=NOT_FOUND_CODE{arguments},\n    "
    )


_FACET_TYPES = {
    "string": "str",
    "date": "dt.date",
    "datetime": "str",
    "int": "int",
    "decimal": "Decimal",
    "bool": "bool",
}
_TRANSFORMS = {
    "string": "strip",
    "date": '{date: {formats: ["%Y-%m-%d"]}}',
    "datetime": "strip",
    "int": "int",
    "decimal": "decimal",
    "bool": "bool",
}
_CANONICAL = {"name": ("full_name", "name"), "birth_date": ("birth_date", None), "sex": ("sex", "sex")}


def facet(service: Service) -> tuple[str, str, str]:
    """(facet model fields, mapping `fields:` lines, facet imports) from the lookup reply's simple elements."""
    fields: list[str] = []
    lines: list[str] = []
    taken: set[str] = set()
    skipped: list[str] = []

    def visit(leaves: tuple[Leaf, ...], path: tuple[str, ...]) -> None:
        for leaf in leaves:
            source = ".".join(path + (leaf.name,))
            if leaf.repeated:
                skipped.append(source)
            elif leaf.kind == "complex":
                visit(leaf.children, path + (leaf.name,))
            elif _key(leaf.name) not in SKIPPED_IN_FACET:
                target, transform = _CANONICAL.get(role(leaf) or "", (snake(leaf.name), None))
                if target in taken:
                    target = snake("_".join(path + (leaf.name,)))
                if target in taken:
                    continue
                taken.add(target)
                fields.append(f"    {target}: {_FACET_TYPES[leaf.kind]} | None = None")
                lines.append(f"  {target}: {{from: {source}, transform: {transform or _TRANSFORMS[leaf.kind]}}}")

    visit(service.lookup.outputs, ())
    if not fields:
        raise WsdlError(f"the reply of {service.lookup.name} has no simple element to map onto a facet")
    lines += [
        f"  # {source} repeats: map it with `each` onto a list of item models (mappings/README.md)"
        for source in skipped
    ]
    imports = []
    if any("dt.date" in f for f in fields):
        imports.append("import datetime as dt")
    if any("Decimal" in f for f in fields):
        imports.append("from decimal import Decimal")
    return "\n".join(fields), "\n".join(lines), "\n".join(imports) + ("\n" if imports else "")


def soap_parts(service: Service) -> SoapParts:
    handler_code, ops = handlers(service)
    schema_code, submissions = schemas(service)
    fields, mapping, imports = facet(service)
    return SoapParts(
        handlers=handler_code,
        operations=ops,
        schemas=schema_code,
        submissions=submissions,
        lookup_contract=lookup_contract(service),
        sample_submission=sample_submission(service),
        facet_fields=fields,
        mapping_fields=mapping,
        facet_imports=imports,
    )
