"""Read what a scaffold needs from a WSDL: its SOAP 1.1 binding, endpoint path and operations, element by element.

The WSDL is parsed by zeep with the same hardened settings the connectors use (no DTDs, entities or network), so a
WSDL the scaffold accepts is one the generated client can load. Operations are sorted into the connector's roles:
lookup (the first that takes a `nik`), health (the first that takes nothing) and submissions (the rest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import zeep
import zeep.exceptions
from lxml import etree
from zeep.transports import AsyncTransport
from zeep.xsd.types import builtins as xsd

from connectors.soap import NoNetwork, strict_settings


class WsdlError(ValueError):
    """A WSDL the scaffold cannot build a connector from; the message says why."""


@dataclass(frozen=True)
class Leaf:
    """One element of a message: `path` of names from the message element, its kind, whether repeated/required."""

    path: tuple[str, ...]
    kind: str  # string | date | datetime | int | decimal | bool | complex
    repeated: bool = False
    required: bool = True
    children: tuple[Leaf, ...] = ()

    @property
    def name(self) -> str:
        return self.path[-1]


@dataclass(frozen=True)
class Operation:
    name: str
    request: str  # local name of the input body element
    response: str  # local name of the output body element
    inputs: tuple[Leaf, ...]
    outputs: tuple[Leaf, ...]

    def takes_nik(self) -> bool:
        return any(leaf.name.lower() == "nik" for leaf in self.inputs)


@dataclass(frozen=True)
class Service:
    """What the scaffold generates from."""

    namespace: str
    binding: str  # QName text, {ns}Name
    path: str  # endpoint path on the simulator
    lookup: Operation
    health: Operation | None
    submissions: tuple[Operation, ...]


_KINDS: tuple[tuple[type, str], ...] = (
    (xsd.DateTime, "datetime"),
    (xsd.Date, "date"),
    (xsd.Boolean, "bool"),
    (xsd.Integer, "int"),
    (xsd.Decimal, "decimal"),
    (xsd.Float, "decimal"),
    (xsd.Double, "decimal"),
)


def _kind(xsd_type: object) -> str:
    if getattr(xsd_type, "elements", None):
        return "complex"
    for cls, kind in _KINDS:
        if isinstance(xsd_type, cls):
            return kind
    return "string"


def _leaves(xsd_type: object, prefix: tuple[str, ...] = (), depth: int = 0) -> tuple[Leaf, ...]:
    if depth > 6:
        raise WsdlError("message types nest deeper than 6 levels")
    leaves = []
    for name, element in getattr(xsd_type, "elements", []):
        kind = _kind(element.type)
        children = _leaves(element.type, (), depth + 1) if kind == "complex" else ()
        repeated = element.max_occurs == "unbounded" or (isinstance(element.max_occurs, int) and element.max_occurs > 1)
        leaves.append(Leaf(prefix + (name,), kind, repeated, element.min_occurs > 0, children))
    return tuple(leaves)


def read_wsdl(path: Path) -> Service:
    """The service described by the WSDL at `path`; WsdlError (with a reason) if it cannot be scaffolded."""
    if not path.is_file():
        raise WsdlError(f"no such WSDL file: {path}")
    wsdl_http = httpx.Client(transport=NoNetwork())
    try:
        client = zeep.Client(
            str(path),
            settings=strict_settings(),
            transport=AsyncTransport(client=httpx.AsyncClient(), wsdl_client=wsdl_http),
        )
    except (zeep.exceptions.Error, etree.LxmlError, ValueError, OSError, KeyError, AttributeError, TypeError) as exc:
        raise WsdlError(f"{path.name} is not a usable WSDL ({type(exc).__name__}: {str(exc)[:200]})") from None
    finally:
        wsdl_http.close()
    bindings = [(qname, b) for qname, b in client.wsdl.bindings.items() if type(b).__name__ == "Soap11Binding"]
    if not bindings:
        raise WsdlError(f"{path.name} has no SOAP 1.1 binding")
    qname, binding = bindings[0]
    operations = []
    for name, op in binding._operations.items():
        if (
            op.input is None
            or op.output is None
            or getattr(op.input, "body", None) is None
            or getattr(op.output, "body", None) is None
        ):
            continue
        operations.append(
            Operation(
                name,
                etree.QName(op.input.body.qname).localname,
                etree.QName(op.output.body.qname).localname,
                _leaves(op.input.body.type),
                _leaves(op.output.body.type),
            )
        )
    if not operations:
        raise WsdlError(f"{path.name} declares no operations (with document/literal input and output)")
    lookup = next((op for op in operations if op.takes_nik()), None)
    if lookup is None:
        raise WsdlError(f"no operation of {path.name} takes a `nik` element: Gerbang looks citizens up by NIK")
    health = next((op for op in operations if not op.inputs), None)
    submissions = tuple(op for op in operations if op is not lookup and op is not health)
    namespace = etree.QName(binding.port_type.name).namespace or ""
    return Service(
        namespace=namespace,
        binding=str(qname),
        path=_endpoint_path(client, path),
        lookup=lookup,
        health=health,
        submissions=submissions,
    )


def _endpoint_path(client: zeep.Client, path: Path) -> str:
    for service in client.wsdl.services.values():
        for port in service.ports.values():
            address = (port.binding_options or {}).get("address") or ""
            endpoint = urlsplit(address).path
            if endpoint.startswith("/") and re.fullmatch(r"[A-Za-z0-9/_.-]+", endpoint) and endpoint != "/":
                return endpoint
    return f"/ws/{re.sub(r'[^a-z0-9]+', '-', path.stem.lower()).strip('-') or 'service'}"
