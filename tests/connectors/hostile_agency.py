"""A hostile agency: one loopback HTTP server whose every reply, to any path and method, misbehaves the way its
`mode` says. Raw sockets, not a framework, because the point is to send what no well-behaved server would: a reply
that never ends, a gzip bomb, a body that trickles, a server that never answers.

Replies come as JSON to REST clients and as XML to SOAP clients (a request with a SOAPAction header or an XML body),
so each mode reaches the parser it is aimed at.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

MODES = ("endless", "gzip_bomb", "deep_json", "huge_body", "trickle", "hang", "xxe", "entity_bomb", "wrong_shape")
BOMB_BYTES = 64 * 1024 * 1024  # what the gzip bomb inflates to (it is ~65 KB on the wire)
HUGE_BYTES = 256 * 1024 * 1024  # declared by huge_body
CHUNK = b" " * 65536

XXE = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><r>&xxe;</r>'
       b'</soap:Body></soap:Envelope>')
ENTITY_BOMB = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a0 "lol">'
               + b"".join(b'<!ENTITY a%d "%s">' % (i, b"&a%d;" % (i - 1) * 10) for i in range(1, 10))
               + b']><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
                 b'<r>&a9;</r></soap:Body></soap:Envelope>')
WRONG_SHAPE_JSON = (b'{"content": [["x"]], "metaData": {"code": "200", "message": "OK"}, "response": [1], '
                    b'"code": "0000", "success": true, "message": "Sukses", "data": {"data_wp": [1], "list_kbm": [1]}, '
                    b'"responinqueryNIB": {"kode": 200, "keterangan": "", "dataNIB": [1]}}')
WRONG_SHAPE_XML = (b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
                   b'<soap:Body><unexpected xmlns="urn:nobody"><x>1</x></unexpected></soap:Body></soap:Envelope>')


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """BOMB_BYTES of spaces, gzipped (built once per process, in chunks so building it stays small)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * (1024 * 1024)
    parts = [packer.compress(block) for _ in range(BOMB_BYTES // len(block))]
    return b"".join(parts) + packer.flush()


class HostileAgency:
    """The server; set `mode` between calls. `requests` counts what it was sent."""

    def __init__(self) -> None:
        self.mode = "hang"
        self.requests = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                xml = self._read_request(conn)
                if xml is None:
                    return
                self.requests += 1
                getattr(self, f"_{self.mode}")(conn, xml)
            except OSError:
                pass  # the client hung up: the point of most modes

    @staticmethod
    def _read_request(conn: socket.socket) -> bool | None:
        """Read the request (head and declared body); whether it is SOAP. None if the client left."""
        conn.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lower = head.lower()
        length = 0
        for line in lower.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            body += chunk
        return b"soapaction" in lower or b"xml" in lower or body.lstrip().startswith(b"<")

    @staticmethod
    def _head(conn: socket.socket, xml: bool, *headers: str) -> None:
        kind = "text/xml; charset=utf-8" if xml else "application/json"
        lines = ["HTTP/1.1 200 OK", f"Content-Type: {kind}", "Connection: close", *headers]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def _endless(self, conn: socket.socket, xml: bool) -> None:
        self._head(conn, xml)  # no length, no chunking: the body ends when the connection does, i.e. never
        conn.sendall(b"<r>" if xml else b'{"data": "')
        while not self._stop.is_set():
            conn.sendall(CHUNK)

    def _gzip_bomb(self, conn: socket.socket, xml: bool) -> None:
        bomb = gzip_bomb()
        self._head(conn, xml, "Content-Encoding: gzip", f"Content-Length: {len(bomb)}")
        conn.sendall(bomb)

    def _deep_json(self, conn: socket.socket, xml: bool) -> None:
        body = b"<a>" * 100_000 if xml else b"[" * 200_000
        self._head(conn, xml, f"Content-Length: {len(body)}")
        conn.sendall(body)

    def _huge_body(self, conn: socket.socket, xml: bool) -> None:
        self._head(conn, xml, f"Content-Length: {HUGE_BYTES}")
        for _ in range(HUGE_BYTES // len(CHUNK)):
            if self._stop.is_set():
                return
            conn.sendall(CHUNK)

    def _trickle(self, conn: socket.socket, xml: bool) -> None:
        self._head(conn, xml, "Content-Length: 100000")
        while not self._stop.is_set():
            conn.sendall(b" ")
            time.sleep(0.05)

    def _wrong_shape(self, conn: socket.socket, xml: bool) -> None:
        """Well-formed, small, and of a shape no connector expects: each REST agency's envelope, saying success,
        with lists where objects are due inside it; or a SOAP body holding an element no WSDL declares."""
        body = WRONG_SHAPE_XML if xml else WRONG_SHAPE_JSON
        self._head(conn, xml, f"Content-Length: {len(body)}")
        conn.sendall(body)

    def _hang(self, conn: socket.socket, xml: bool) -> None:
        while not self._stop.wait(0.1):
            pass

    def _xxe(self, conn: socket.socket, xml: bool) -> None:
        self._head(conn, True, f"Content-Length: {len(XXE)}")
        conn.sendall(XXE)

    def _entity_bomb(self, conn: socket.socket, xml: bool) -> None:
        self._head(conn, True, f"Content-Length: {len(ENTITY_BOMB)}")
        conn.sendall(ENTITY_BOMB)


@contextmanager
def hostile_agency() -> Iterator[HostileAgency]:
    """A HostileAgency on loopback for the block."""
    server = HostileAgency()
    try:
        yield server
    finally:
        server.close()
