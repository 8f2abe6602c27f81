"""Simulator side of SOAP 1.1: safe envelope parsing, WS-Security UsernameToken checks, faults, WSDL serving.

`mount(app, ...)` turns a FastAPI app into one SOAP endpoint: `GET <path>?wsdl` serves the packaged WSDL with its
`soap:address` rewritten to the server's own URL; `POST <path>` takes a real SOAP envelope, parses it with a safe
lxml parser (no entities, no network, no huge trees, no DTD), checks the WS-Security UsernameToken (PasswordText
or PasswordDigest with nonce and created, replays and stale timestamps refused), and dispatches on the body's
first element to the operation's handler. Faults follow SOAP 1.1: HTTP 500, `soap:Client` for the caller's
mistakes, `soap:Server` for ours, and the WS-Security 1.1 QNames (`wsse:FailedAuthentication`, …) for auth.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime as dt
import hashlib
import hmac
import logging
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from lxml import etree

from connectors.simkit.control import SimControl, install
from identity.clock import as_utc

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
PASSWORD_TEXT = "#PasswordText"
PASSWORD_DIGEST = "#PasswordDigest"
XML_TYPE = "text/xml; charset=utf-8"
MAX_REQUEST_BYTES = 1024 * 1024
MAX_SKEW_S = 300
MAX_KEY_LEN = 200
HUGE_BODY_BYTES = 256 * 1024 * 1024
HUGE_CHUNK = b"A" * (64 * 1024)

log = logging.getLogger(__name__)


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


def auth_fault(kind: str = "FailedAuthentication", message: str | None = None) -> SoapFault:
    """A WS-Security fault; the messages are the ones the WSS 1.1 specification gives."""
    messages = {
        "FailedAuthentication": "The security token could not be authenticated or authorized",
        "InvalidSecurity": "An error was discovered processing the <wsse:Security> header",
        "InvalidSecurityToken": "An invalid security token was provided",
        "MessageExpired": "The message has expired",
    }
    return SoapFault(f"wsse:{kind}", message or messages.get(kind, "Security error"))


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

    def text(self, name: str, *, required: bool = True, max_len: int = 200) -> str | None:
        """Text of a direct child in the service namespace; missing/empty required → Client fault."""
        child = self.element.find(f"{{{self.namespace}}}{name}")
        value = (child.text or "").strip() if child is not None else ""
        if not value:
            if required:
                raise client_fault(f"elemen {name} wajib diisi", kode="REQ-01")
            return None
        if len(value) > max_len:
            raise client_fault(f"elemen {name} terlalu panjang", kode="REQ-02")
        return value

    def texts(self, name: str, *, parent: str | None = None) -> list[str]:
        """Texts of repeated children (optionally inside a wrapper element)."""
        container = self.element.find(f"{{{self.namespace}}}{parent}") if parent else self.element
        if container is None:
            return []
        return [(c.text or "").strip() for c in container.findall(f"{{{self.namespace}}}{name}")]

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


class NonceCache:
    """Nonces seen within the freshness window, so a captured digest cannot be replayed."""

    def __init__(self, window_s: int = MAX_SKEW_S, limit: int = 100_000):
        self.window_s, self.limit = window_s, limit
        self._seen: dict[str, dt.datetime] = {}
        self._lock = threading.Lock()

    def first_use(self, nonce: str, now: dt.datetime) -> bool:
        with self._lock:
            if len(self._seen) > self.limit:
                cutoff = now - dt.timedelta(seconds=2 * self.window_s)
                self._seen = {k: v for k, v in self._seen.items() if v > cutoff}
            if nonce in self._seen:
                return False
            self._seen[nonce] = now
            return True


def parse_created(value: str) -> dt.datetime:
    """An xsd:dateTime timestamp (`Z` or offset); naive values are taken as UTC."""
    stamp = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return as_utc(stamp)


def authenticate(
    header: etree._Element | None,
    users: Mapping[str, str],
    nonces: NonceCache,
    *,
    now: dt.datetime | None = None,
    max_skew_s: int = MAX_SKEW_S,
) -> str:
    """Check the UsernameToken in the Security header; returns the user name or raises a wsse fault."""
    security = header.find(f"{{{WSSE}}}Security") if header is not None else None
    if security is None:
        raise auth_fault("InvalidSecurity", "header wsse:Security tidak ada")
    token = security.find(f"{{{WSSE}}}UsernameToken")
    if token is None:
        raise auth_fault("InvalidSecurityToken", "wsse:UsernameToken tidak ada")
    username = (token.findtext(f"{{{WSSE}}}Username") or "").strip()
    password_el = token.find(f"{{{WSSE}}}Password")
    if not username or password_el is None:
        raise auth_fault("InvalidSecurityToken")
    supplied = (password_el.text or "").strip()
    kind = password_el.get("Type") or PASSWORD_TEXT
    expected = users.get(username)
    if kind.endswith(PASSWORD_TEXT):
        ok = expected is not None and hmac.compare_digest(supplied.encode(), expected.encode())
    elif kind.endswith(PASSWORD_DIGEST):
        ok = _digest_ok(token, supplied, expected, nonces, now or dt.datetime.now(dt.UTC), max_skew_s)
    else:
        raise auth_fault("UnsupportedSecurityToken", "jenis password tidak didukung")
    if not ok:
        raise auth_fault("FailedAuthentication")
    return username


def _digest_ok(
    token: etree._Element, supplied: str, expected: str | None, nonces: NonceCache, now: dt.datetime, max_skew_s: int
) -> bool:
    nonce_b64 = (token.findtext(f"{{{WSSE}}}Nonce") or "").strip()
    created = (token.findtext(f"{{{WSU}}}Created") or "").strip()
    if not nonce_b64 or not created:
        raise auth_fault("InvalidSecurityToken", "PasswordDigest memerlukan Nonce dan Created")
    try:
        nonce = base64.b64decode(nonce_b64, validate=True)
        stamp = parse_created(created)
    except ValueError:
        raise auth_fault("InvalidSecurityToken", "Nonce atau Created tidak valid") from None
    if abs((now - stamp).total_seconds()) > max_skew_s:
        raise auth_fault("MessageExpired")
    if expected is None:
        return False
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + expected.encode()).digest()).decode()
    if not hmac.compare_digest(digest, supplied):
        return False
    if not nonces.first_use(nonce_b64, now):
        raise auth_fault("FailedAuthentication", "nonce sudah pernah dipakai")
    return True


def wsdl_with_address(wsdl: bytes, address: str) -> bytes:
    """The WSDL with every soap:address location pointing at `address`."""
    root = etree.fromstring(wsdl, safe_parser())
    for node in root.iter(f"{{{WSDL_SOAP}}}address"):
        node.set("location", address)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def billion_laughs(namespace: str) -> bytes:
    """A reply whose internal DTD expands one reference into 10^9 "lol"s (about 3 GB) if a parser lets it."""
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    ]
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE soap:Envelope [{"".join(entities)}]>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><tns:Respon xmlns:tns="{namespace}">'
        f"<tns:kode>00</tns:kode><tns:nama>&lol9;</tns:nama></tns:Respon></soap:Body></soap:Envelope>"
    ).encode()


def external_entity(namespace: str, target: str = "file:///etc/passwd") -> bytes:
    """A reply that asks the parser to paste a local file (XXE) into a field."""
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE soap:Envelope [<!ENTITY xxe SYSTEM "{target}">]>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><tns:Respon xmlns:tns="{namespace}">'
        f"<tns:kode>00</tns:kode><tns:nama>&xxe;</tns:nama></tns:Respon></soap:Body></soap:Envelope>"
    ).encode()


def huge_body(namespace: str, size: int = HUGE_BODY_BYTES) -> StreamingResponse:
    """A well-formed start, then `size` bytes of one text node, streamed without a Content-Length (chunked): the
    simulator holds one chunk at a time; a client that reads it all holds all of it."""
    head = (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
        f'<tns:Respon xmlns:tns="{namespace}"><tns:nama>'
    ).encode()

    async def chunks() -> Any:
        yield head
        sent = 0
        while sent < size:
            yield HUGE_CHUNK
            sent += len(HUGE_CHUNK)
            await asyncio.sleep(0)  # let the loop see a client that hung up, so the stream stops
        yield b"</tns:nama></tns:Respon></soap:Body></soap:Envelope>"

    return StreamingResponse(chunks(), media_type=XML_TYPE)


def hostile_replies(namespace: str) -> dict[str, Callable[[Request], Response]]:
    """The hostile fault modes of a SOAP simulator (see connectors/simkit/control.py)."""
    return {
        "billion_laughs": lambda request: Response(billion_laughs(namespace), media_type=XML_TYPE),
        "external_entity": lambda request: Response(external_entity(namespace), media_type=XML_TYPE),
        "huge_body": lambda request: huge_body(namespace),
    }


@dataclass
class SoapService:
    """One SOAP endpoint of a simulator: where it lives, its namespace, operations and accounts."""

    path: str
    wsdl: Path
    namespace: str
    operations: Mapping[str, Handler]
    users: Mapping[str, str]
    nonces: NonceCache = field(default_factory=NonceCache)


def mount(app: FastAPI, service: SoapService, control: SimControl) -> None:
    """Serve `service` on `app` (WSDL at GET ?wsdl, envelopes at POST) and install the shared fault controls."""
    wsdl_bytes = service.wsdl.read_bytes()
    ns = service.namespace

    def error_reply(request: Request) -> Response:
        return fault_response(server_fault("layanan sedang mengalami gangguan", kode="SYS-99"), ns)

    install(
        app,
        control,
        error_reply=error_reply,
        garbage_type=XML_TYPE,
        garbage_body=b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="'
        + SOAP_ENV.encode()
        + b'"><soap:Body><tns:Respon xmlns:tns="'
        + ns.encode()
        + b'"><tns:kode>00</tns:ko',
        hostile=hostile_replies(ns),
    )

    @app.get(service.path, include_in_schema=False)
    async def get_wsdl(request: Request) -> Response:
        if "wsdl" not in {key.lower() for key in request.query_params}:
            return Response(
                "Gunakan ?wsdl untuk mengambil WSDL layanan ini.\n",
                status_code=400,
                media_type="text/plain; charset=utf-8",
            )
        address = str(request.url.replace(query="", fragment=""))
        return Response(wsdl_with_address(wsdl_bytes, address), media_type=XML_TYPE)

    @app.post(service.path, include_in_schema=False)
    async def post_envelope(request: Request) -> Response:
        return handle(service, await request.body(), request.headers.get("content-type", ""))


def handle(service: SoapService, raw: bytes, content_type: str) -> Response:
    """Parse, authenticate and dispatch one envelope; every outcome is a SOAP reply."""
    ns = service.namespace
    try:
        if "text/xml" not in content_type.lower():
            raise SoapFault("soap:Client", "SOAP 1.1 memerlukan Content-Type text/xml", kode="XML-04", status=415)
        header, element = parse_envelope(raw)
        username = authenticate(header, service.users, service.nonces)
        qname = etree.QName(element)
        handler = service.operations.get(qname.localname) if qname.namespace == ns else None
        if handler is None:
            raise client_fault(f"operasi tidak dikenal: {qname.localname}", kode="OPS-01")
        request = SoapRequest(
            operation=qname.localname, element=element, header=header, username=username, namespace=ns
        )
        return Response(envelope(handler(request)), media_type=XML_TYPE)
    except SoapFault as fault:
        return fault_response(fault, ns)
    except Exception:  # a bug in the simulator is still a proper Server fault for the caller
        log.exception("SOAP simulator failed on an operation")
        return fault_response(server_fault("kesalahan internal", kode="SYS-01"), ns)


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

    @staticmethod
    def _fill(node: etree._Element, text: Any, children: Iterable[etree._Element]) -> etree._Element:
        if text is not None:
            node.text = text.isoformat() if isinstance(text, (dt.date, dt.datetime)) else str(text)
        for child in children:
            node.append(child)
        return node


class IdempotentReplies:
    """The first reply given per idempotency key, so a redelivered submission gets the same reference.

    Every receipt is counted with `control.record_submission` (the tests and the demo read it in /_sim/stats).
    Copies are handed out because serialising moves an element into its envelope.
    """

    def __init__(self, control: SimControl):
        self.control = control
        self._replies: dict[str, etree._Element] = {}
        self._lock = threading.Lock()

    def replay(self, key: str) -> etree._Element | None:
        """The earlier reply for `key` (counted as a receipt), or None for a new key."""
        if len(key) > MAX_KEY_LEN:
            raise client_fault("kunci idempotensi terlalu panjang", kode="REQ-03")
        with self._lock:
            earlier = self._replies.get(key)
        if earlier is None:
            return None
        self.control.record_submission(key)
        return copy.deepcopy(earlier)

    def keep(self, key: str, reply: etree._Element) -> etree._Element:
        """Remember `reply` for `key` (a concurrent twin gets the first one) and count the receipt."""
        with self._lock:
            kept = self._replies.setdefault(key, reply)
        self.control.record_submission(key)
        return copy.deepcopy(kept)


# --- holder data as an agency keeps it ------------------------------------------------------------------------


def add_years(date: dt.date, years: int) -> dt.date:
    """Same day `years` later (validity periods); 29 February becomes 28 February in a common year."""
    try:
        return date.replace(year=date.year + years)
    except ValueError:
        return date.replace(year=date.year + years, day=28)


_SWAPS = [
    ("MUHAMMAD", "MUHAMAD"),
    ("MUHAMMAD", "MOHAMMAD"),
    ("MOHAMMAD", "MUHAMMAD"),
    ("NUR", "NOER"),
    ("SUSANTI", "SUSANTHI"),
    ("DEWI", "DEWY"),
    ("YU", "JU"),
    ("OE", "U"),
    ("U", "OE"),
    ("DJ", "J"),
    ("J", "DJ"),
    ("TJ", "C"),
    ("C", "TJ"),
    ("I", "Y"),
    ("Y", "I"),
    ("AH", "A"),
    ("SY", "S"),
]


def variant_name(name: str, rng: random.Random) -> str:
    """Another plausible spelling of `name` (old spelling, dropped letter, abbreviated middle name)."""
    candidates = [name.replace(old, new, 1) for old, new in _SWAPS if old in name]
    words = name.split()
    if len(words) >= 3:
        candidates.append(" ".join([words[0], f"{words[1][0]}.", *words[2:]]))
    if len(words) >= 2:
        candidates.append(" ".join(words[:-1]))
    candidates = [c for c in candidates if c and c != name]
    if not candidates:
        return name + "H" if not name.endswith("H") else name[:-1]
    return rng.choice(candidates)


def variant_date(date: dt.date, rng: random.Random) -> dt.date:
    """A plausibly mistyped birth date: day and month swapped, or one day or one year off."""
    if date.day <= 12 and date.day != date.month:
        try:
            return date.replace(day=date.month, month=date.day)
        except ValueError:
            pass
    return date + dt.timedelta(days=rng.choice([-1, 1, 365, -365]))


@dataclass(frozen=True)
class Holder:
    """The holder as the agency's own register has them; `variant` says what differs from Dukcapil, if anything."""

    name: str
    birth_date: dt.date
    sex: str
    variant: str | None = None


def holder_as_known(name: str, birth_date: dt.date, sex: str, rng: random.Random, *, rate: float = 0.05) -> Holder:
    """About `rate` of holders are on file with another name spelling (4 in 5) or birth date (1 in 5)."""
    if rng.random() >= rate:
        return Holder(name, birth_date, sex)
    if rng.random() < 0.8:
        return Holder(variant_name(name, rng), birth_date, sex, variant="name")
    return Holder(name, variant_date(birth_date, rng), sex, variant="birth_date")
