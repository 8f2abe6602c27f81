"""Callback delivery throughput: events/s delivered, in signed batches of 100, to a receiver on loopback.

Run: .venv/bin/python bench/callbacks.py [--events 20000] [--batch 100] [--subscriptions 1]
SQLite (a temporary file) always; PostgreSQL too when GERBANG_DATABASE_URL is a postgresql:// URL (a schema of its
own, dropped afterwards). The events are written first through `emit()` (the outbox rows a status change writes),
then the real deliverer — fan-out, cutting batches under the subscription's lease, HMAC + Ed25519 signing, the
HTTP POST, the attempt row and the audit entry per batch — runs until the receiver has every event. The receiver
checks nothing is missing or repeated. Target: ≥ 5,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from connectors.simkit import serving
from core.audit import note
from core.callbacks import service
from core.callbacks.config import Config
from core.callbacks.delivery import Deliverer
from core.callbacks.events import emit
from core.callbacks.secrets import callback_key
from core.db import make_engine, session_factory, upgrade
from core.db.engine import normalise_url
from core.settings import Settings
from identity.clock import utcnow

KEY = callback_key(os.urandom(32))  # the bench's deliverer and subscriptions share it


class Sink:
    """A bare ASGI receiver (so the bench measures Gerbang, not the receiver's framework)."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        await send({"type": "lifespan.startup.complete"})
                    elif message["type"] == "lifespan.shutdown":
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        doc = json.loads(b"".join(chunks))
        with self.lock:
            self.events.extend(e["id"] for e in doc["events"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


def run_once(url: str, events: int, batch: int, subscriptions: int) -> float:
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    sink = Sink()
    server = serving.start(sink)
    signer = note.parse_signer(note.generate_signer("bench.gerbang/audit")[0])
    try:
        with sessions() as session:
            for _ in range(subscriptions):
                service.create(session, agency="oss", url=f"{server.url}/hook", events=["application.submitted"],
                               batch_max=batch, batch_window_s=0.5, actor="bench", key=KEY)
        with sessions() as session:
            now = utcnow()
            for n in range(events):
                emit(session, "application.submitted", agency="oss", application_id=str(uuid.uuid4()), at=now,
                     data={"application_id": "x", "agency": "oss", "service": "license_status",
                           "status": "submitted", "reference": f"I-{n:020d}"})
                if n % 1000 == 999:
                    session.commit()
            session.commit()
        config = Config(allowed_hosts=("127.0.0.1",), poll_s=0.05)
        wanted = events * subscriptions

        async def main() -> float:
            deliverer = Deliverer(sessions, Settings(), signer, config=config, secret_key=KEY)
            started = time.perf_counter()
            deliverer.start()
            while len(sink.events) < wanted:
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - started
            await deliverer.stop()
            return elapsed

        elapsed = asyncio.run(main())
        assert len(sink.events) == wanted and len(set(sink.events)) == events, "missing or repeated events"
        return elapsed
    finally:
        server.stop()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--subscriptions", type=int, default=1)
    args = parser.parse_args()
    targets = []
    with tempfile.TemporaryDirectory() as tmp:
        targets.append(("sqlite", f"sqlite:///{tmp}/bench.db"))
        pg = os.environ.get("GERBANG_DATABASE_URL", "")
        schema = f"bench_cb_{uuid.uuid4().hex[:8]}"
        if pg.startswith("postgres"):
            admin = make_engine(pg)
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            sep = "&" if "?" in pg else "?"
            targets.append(("postgresql", normalise_url(pg) + f"{sep}options=-csearch_path%3D{schema}"))
        try:
            for name, url in targets:
                elapsed = run_once(url, args.events, args.batch, args.subscriptions)
                total = args.events * args.subscriptions
                print(f"{name:10s} {total} events in batches of {args.batch} to {args.subscriptions} "
                      f"subscription(s): {elapsed:.2f} s = {total / elapsed:,.0f} events/s")
        finally:
            if pg.startswith("postgres"):
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()


if __name__ == "__main__":
    main()
