"""A SOAP 1.1 simulator's envelopes: safe parsing, the parsed call (`SoapRequest`), faults and reply building.

Why a parser of its own: requests come from anyone who can reach a simulator (the demo, tests, hostile clients),
so they are parsed with an lxml parser that cannot expand entities, fetch anything or build huge trees, and a DTD
is refused before parsing. Faults follow SOAP 1.1: HTTP 500, `soap:Client` for the caller's mistakes,
`soap:Server` for ours, with the agency's own code in `<detail><kesalahan><kode>`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

from fastapi import Response
from lxml import etree

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
XML_TYPE = "text/xml; charset=utf-8"
MAX_REQUEST_BYTES = 1024 * 1024
MAX_TEXT = 200  # characters of one element's text
NIK_DIGITS = re.compile(r"[0-9]{16}")


def safe_parser() -> etree.XMLParser:
    """An lxml parser that cannot be made to expand entities, fetch anything or build huge trees."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_blank_text=True,
        remove_comments=True,
        remove_pis=True,
    )


class SoapFault(Exception):
    """A fault to send back. `code` is a QName string: "soap:Client", "soap:Server", "wsse:FailedAuthentication"."""

    def __init__(self, code: str, message: str, *, kode: str | None = None, status: int = 500):
        super().__init__(message)
        self.code = code
        self.message = message
        self.kode = kode
        self.status = status


def client_fault(message: str, kode: str | None = None) -> SoapFault:
    """The caller's mistake (bad input, unknown operation, business refusal)."""
    return SoapFault("soap:Client", message, kode=kode)


def server_fault(message: str, kode: str | None = None) -> SoapFault:
    """Our own trouble: the caller may try again later."""
    return SoapFault("soap:Server", message, kode=kode)


def envelope(
    body: etree._Element | None = None, *, fault: SoapFault | None = None, detail_ns: str | None = None
) -> bytes:
    """Serialise a SOAP 1.1 envelope holding `body` or a Fault (with the agency's code in <detail>)."""
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "wsse": WSSE})
    etree.SubElement(root, f"{{{SOAP_ENV}}}Header")
    soap_body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    if fault is not None:
        node = etree.SubElement(soap_body, f"{{{SOAP_ENV}}}Fault")
        etree.SubElement(node, "faultcode").text = fault.code
        etree.SubElement(node, "faultstring").text = fault.message
        if fault.kode and detail_ns:
            detail = etree.SubElement(node, "detail")
            error = etree.SubElement(detail, f"{{{detail_ns}}}kesalahan", nsmap={"tns": detail_ns})
            etree.SubElement(error, f"{{{detail_ns}}}kode").text = fault.kode
            etree.SubElement(error, f"{{{detail_ns}}}keterangan").text = fault.message
    elif body is not None:
        soap_body.append(body)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def fault_response(fault: SoapFault, detail_ns: str | None = None) -> Response:
    """SOAP 1.1 over HTTP: every fault travels with status 500 (415 for a wrong media type)."""
    return Response(envelope(fault=fault, detail_ns=detail_ns), status_code=fault.status, media_type=XML_TYPE)


@dataclass
class SoapRequest:
    """A parsed, authenticated call: the operation element and who made it."""

    operation: str
    element: etree._Element
    header: etree._Element | None
    username: str
    namespace: str

    @overload
    def text(self, name: str, *, required: Literal[True] = True) -> str: ...

    @overload
    def text(self, name: str, *, required: bool) -> str | None: ...

    def text(self, name: str, *, required: bool = True) -> str | None:
        """Text of a direct child in the service namespace; missing/empty required, or longer than MAX_TEXT → Client
        fault."""
        child = self.element.find(f"{{{self.namespace}}}{name}")
        value = (child.text or "").strip() if child is not None else ""
        if not value:
            if required:
                raise client_fault(f"elemen {name} wajib diisi", kode="REQ-01")
            return None
        if len(value) > MAX_TEXT:
            raise client_fault(f"elemen {name} terlalu panjang", kode="REQ-02")
        return value

    def texts(self, name: str, *, parent: str | None = None) -> list[str]:
        """Texts of repeated children (optionally inside a wrapper element)."""
        container = self.element.find(f"{{{self.namespace}}}{parent}") if parent else self.element
        if container is None:
            return []
        return [(c.text or "").strip() for c in container.findall(f"{{{self.namespace}}}{name}")]

    def nik(self, kode: str) -> str:
        """The `nik` element: sixteen digits, else a Client fault with the agency's own `kode`."""
        nik = self.text("nik")
        if not NIK_DIGITS.fullmatch(nik):
            raise client_fault("NIK harus 16 digit angka", kode=kode)
        return nik

    def date(self, name: str, kode: str) -> dt.date:
        """An xsd:date element, else a Client fault with the agency's own `kode`."""
        try:
            return dt.date.fromisoformat(self.text(name))
        except ValueError:
            raise client_fault(f"{name} harus tanggal YYYY-MM-DD", kode=kode) from None

    def required_header(self, name: str, kode: str) -> str:
        """A header block the operation cannot do without (the idempotency key), else a Client fault."""
        value = self.header_text(name)
        if not value:
            raise client_fault(f"header {name} wajib diisi", kode=kode)
        return value

    def header_text(self, name: str) -> str | None:
        """Text of a header block in the service namespace (e.g. the idempotency key)."""
        if self.header is None:
            return None
        child = self.header.find(f"{{{self.namespace}}}{name}")
        if child is None:
            return None
        return (child.text or "").strip() or None


Handler = Callable[[SoapRequest], etree._Element]


def parse_envelope(raw: bytes) -> tuple[etree._Element | None, etree._Element]:
    """(Header, first Body child) of a SOAP 1.1 envelope, or a Client fault saying what is wrong."""
    if len(raw) > MAX_REQUEST_BYTES:
        raise client_fault("pesan terlalu besar", kode="XML-03")
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise client_fault("DTD tidak diizinkan", kode="XML-02")
    try:
        root = etree.fromstring(raw, safe_parser())
    except etree.XMLSyntaxError:
        raise client_fault("XML tidak valid", kode="XML-01") from None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        if etree.QName(root).localname == "Envelope":  # e.g. a SOAP 1.2 envelope
            raise SoapFault("soap:VersionMismatch", "hanya SOAP 1.1 yang didukung")
        raise client_fault("bukan SOAP Envelope", kode="XML-01")
    header = root.find(f"{{{SOAP_ENV}}}Header")
    body = root.find(f"{{{SOAP_ENV}}}Body")
    if body is None or len(body) == 0:
        raise client_fault("SOAP Body kosong", kode="XML-01")
    return header, body[0]


class Builder:
    """Small helper to build reply elements in one namespace: `b.el("nama", "BUDI")`, `b.sub(parent, ...)`."""

    def __init__(self, namespace: str, prefix: str):
        self.ns, self.prefix = namespace, prefix

    def el(self, name: str, text: Any = None, children: Iterable[etree._Element] = ()) -> etree._Element:
        node = etree.Element(f"{{{self.ns}}}{name}", nsmap={self.prefix: self.ns})
        return self._fill(node, text, children)

    def sub(
        self, parent: etree._Element, name: str, text: Any = None, children: Iterable[etree._Element] = ()
    ) -> etree._Element:
        return self._fill(etree.SubElement(parent, f"{{{self.ns}}}{name}"), text, children)

    def fields(self, parent: etree._Element, name: str, names: Sequence[str], values: Sequence[Any]) -> etree._Element:
        """A child `name` of `parent` holding one element per name, with the value at the same place."""
        return self.sub(parent, name, children=[self.el(key, value) for key, value in zip(names, values, strict=True)])

    @staticmethod
    def _fill(node: etree._Element, text: Any, children: Iterable[etree._Element]) -> etree._Element:
        if text is not None:
            node.text = text.isoformat() if isinstance(text, (dt.date, dt.datetime)) else str(text)
        for child in children:
            node.append(child)
        return node
