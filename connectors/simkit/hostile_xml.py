"""Hostile replies a SOAP simulator can be switched to (connectors/simkit/control.py), so tests and the demo show
that Gerbang's SOAP client refuses them: entity expansion (billion laughs), an external entity (XXE), a body far
too large to hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from connectors.simkit.envelope import SOAP_ENV, XML_TYPE

HUGE_BODY_BYTES = 256 * 1024 * 1024
HUGE_CHUNK = b"A" * (64 * 1024)


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
