"""The SOAP simulator base: an agency's SOAP simulator declares what is its own (`SoapAgency`: title, WSDL, demo
account; its operation handlers, each given a `Call`, and their business rules) and this module serves it.

`SoapAgency.serve` builds the FastAPI app: `GET <path>?wsdl` serves the packaged WSDL with its `soap:address`
rewritten to the server's own URL; `POST <path>` takes a real SOAP envelope, parses it safely
(connectors/simkit/envelope.py), checks the WS-Security UsernameToken (connectors/simkit/wsse.py) and dispatches
on the body's first element to the operation's handler; the shared fault modes, hostile replies included
(connectors/simkit/hostile_xml.py), are switched through `app.state.control`. A submission is answered once per
idempotency key (`IdempotentReplies`). What an agency holds about a person is derived from the population on first
use (`connectors.simkit.population.Register`), the holder as the agency's own register has them
(`holder_as_known`: now and then another spelling of the name or birth date than the civil registry's).
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from lxml import etree

from connectors.simkit.control import SimControl, install
from connectors.simkit.envelope import (
    SOAP_ENV,
    XML_TYPE,
    Builder,
    Handler,
    SoapFault,
    SoapRequest,
    client_fault,
    envelope,
    fault_response,
    parse_envelope,
    safe_parser,
    server_fault,
)
from connectors.simkit.hostile_xml import hostile_replies
from connectors.simkit.wsse import NonceCache, authenticate
from identity.clock import today_wib

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
MAX_KEY_LEN = 200
DEMO_USER = "mpp-gerbang"

log = logging.getLogger(__name__)


def wsdl_with_address(wsdl: bytes, address: str) -> bytes:
    """The WSDL with every soap:address location pointing at `address`."""
    root = etree.fromstring(wsdl, safe_parser())
    for node in root.iter(f"{{{WSDL_SOAP}}}address"):
        node.set("location", address)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


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

    def once(self, key: str, answer: Callable[[], etree._Element]) -> etree._Element:
        """The earlier reply for `key`, or `answer()` (which may raise a fault) kept as the reply for `key`."""
        earlier = self.replay(key)
        if earlier is not None:
            return earlier
        return self.keep(key, answer())


S = TypeVar("S")


@dataclass(frozen=True)
class Call(Generic[S]):
    """One call of an operation as its handler sees it: the parsed request, the agency's state (its register of
    people), the day statuses and dates are judged against, and the replies kept per idempotency key."""

    request: SoapRequest
    state: S
    today: dt.date
    replies: IdempotentReplies


Operation = Callable[[Call[S]], etree._Element]


@dataclass(frozen=True)
class SoapAgency:
    """A SOAP agency's simulator, declared: its title, where it lives (`path`), its packaged WSDL and namespace, the
    prefix of its replies and its demo account. `serve` makes the app of its operations."""

    title: str
    path: str
    wsdl: Path
    namespace: str
    prefix: str
    demo_password: str

    @classmethod
    def from_wsdl(cls, title: str, wsdl: Path, *, prefix: str, demo_password: str) -> SoapAgency:
        """An agency served at the path of its WSDL's soap:address, in the WSDL's target namespace: the WSDL, the
        adapter contract, says them once."""
        root = etree.fromstring(wsdl.read_bytes(), safe_parser())
        address = root.find(f".//{{{WSDL_SOAP}}}address")
        path = urlsplit(address.get("location", "") if address is not None else "").path
        return cls(title, path, wsdl, root.get("targetNamespace", ""), prefix, demo_password)

    @cached_property
    def builder(self) -> Builder:
        return Builder(self.namespace, self.prefix)

    def reply(
        self, call: Call[Any], code: str, message: str, children: Iterable[etree._Element] = ()
    ) -> etree._Element:
        """The response to `call`'s operation, opening with the adapter contract's `kodeRespon` and `pesan`, then
        `children`."""
        node = self.builder.el(f"{call.request.operation}Response")
        self.builder.sub(node, "kodeRespon", code)
        self.builder.sub(node, "pesan", message)
        node.extend(children)
        return node

    def status(self, text: str) -> Operation[Any]:
        """The handler of the cheap operation health checks call: `text` as its status, and the server's clock."""

        def answer(call: Call[Any]) -> etree._Element:
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            status, clock = self.builder.el("status", text), self.builder.el("waktuServer", now)
            return self.builder.el(f"{call.request.operation}Response", children=[status, clock])

        return answer

    def serve(
        self,
        state: S,
        operations: Mapping[str, Operation[S]],
        *,
        users: Mapping[str, str] | None = None,
        today: dt.date | None = None,
    ) -> FastAPI:
        """The simulator as a FastAPI app (`app.state.control` drives its faults): `operations` over `state`, for
        `users` ({user: password}, default the demo account), judging dates against `today` (default: the real
        today, asked at each call)."""
        app = FastAPI(title=f"{self.title} (simulator)", docs_url=None, redoc_url=None, openapi_url=None)
        control = SimControl()
        app.state.control = control
        replies = IdempotentReplies(control)

        def bound(operation: Operation[S]) -> Handler:
            return lambda request: operation(Call(request, state, today or today_wib(), replies))

        handlers = {name: bound(operation) for name, operation in operations.items()}
        accounts = dict(users or {DEMO_USER: self.demo_password})
        mount(app, SoapService(self.path, self.wsdl, self.namespace, handlers, accounts), control)
        return app

    def sim_config(self, base_url: str) -> dict[str, str]:
        """Client settings that talk to a simulator at `base_url` with its demo account."""
        url = base_url.rstrip("/") + self.path
        return {"url": url, "user": DEMO_USER, "password": self.demo_password, "password_type": "digest"}


def card_status(today: dt.date, valid_until: dt.date, withdrawn: bool, words: tuple[str, str, str]) -> str:
    """What a document an agency issued (a passport, a driving licence) is on `today`, in the agency's `words` for
    withdrawn, valid and expired."""
    if withdrawn:
        return words[0]
    return words[1] if valid_until >= today else words[2]


# --- holder data as an agency keeps it ------------------------------------------------------------------------


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
