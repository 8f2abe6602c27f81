"""A real receiver on loopback, a deliverer running in its own thread, and event writers."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from connectors.simkit import serving
from core.callbacks.config import Config
from core.callbacks.delivery import Deliverer
from core.callbacks.events import emit
from core.settings import Settings
from identity.clock import utcnow

FAST = Config(allowed_hosts=("127.0.0.1",), poll_s=0.05, retry_base_s=0.05, retry_max_s=0.2, max_age_s=60,
              connect_timeout_s=1, read_timeout_s=2)


@dataclass
class Receiver:
    """What the receiver saw: every POST's body and headers; `mode` picks its answer (ok, 503, 410, redirect)."""

    mode: str = "ok"
    seen: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Any:
            body = await request.body()
            with self.lock:
                self.seen.append((body, dict(request.headers)))
            if self.mode == "503":
                return JSONResponse({"error": "busy"}, status_code=503)
            if self.mode == "410":
                return JSONResponse({"error": "gone"}, status_code=410)
            if self.mode == "redirect":
                return RedirectResponse("http://127.0.0.1:1/elsewhere", status_code=307)
            return JSONResponse({"ok": True})

        return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def receiver(port: int = 0) -> Iterator[tuple[Receiver, serving.RunningServer]]:
    state = Receiver()
    with serving.serving(state.app(), port=port) as server:
        yield state, server


@contextmanager
def deliverer(sessions: Any, config: Config = FAST, signer: Any = None) -> Iterator[Deliverer]:
    """A Deliverer on its own event loop in a thread, stopped on exit."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Deliverer] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def main() -> None:
            box["d"] = Deliverer(sessions, Settings(), signer, config=config).start()
            ready.set()
            await box["d"]._stop.wait()
            await box["d"].stop()

        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # pragma: no cover - shown if the loop dies
            box["error"] = exc  # type: ignore[assignment]
            ready.set()
            raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield box["d"]
    finally:
        assert thread.is_alive(), f"the deliverer's loop ended: {box.get('error')!r}"
        loop.call_soon_threadsafe(box["d"]._stop.set)
        loop.call_soon_threadsafe(box["d"].wake)
        thread.join(15)
        assert not thread.is_alive(), "the deliverer did not stop"
        loop.close()


def emit_events(sessions: Any, count: int, agency: str = "oss", event_type: str = "application.submitted",
                at: dt.datetime | None = None) -> None:
    """`count` events, one per transaction in order (numbered in data.n)."""
    with sessions() as session:
        for n in range(count):
            emit(session, event_type, agency=agency, application_id=f"app-{n}", at=at or utcnow(),
                 data={"n": n})
            session.commit()
