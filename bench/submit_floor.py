"""The floor of bench/submit.py: the same applications through the same API framework, PostgreSQL, broker and
simulators, doing only the least that "end to end" needs — none of Gerbang's checks, audit, history, outbox,
inbox, encryption or callbacks.

- `api`: FastAPI under uvicorn, like `gerbang serve`; `POST /v1/applications` parses the body, INSERTs the
  application and commits (psycopg, autocommit), publishes a persistent message to a quorum queue on pika's
  asyncio adapter with publisher confirms (not awaited), and answers 202 with the id.
- `worker`: one event loop, no threads: consumes that queue (prefetch; at most `concurrency` calls per agency),
  submits with the agency's connector, UPDATEs the row `submitted` and acknowledges. When it has done
  `count`, it prints one JSON line (done, errors) and exits.

Why: whatever rate this reaches on a machine bounds what Gerbang can reach there, since Gerbang does all of this
and more for each application — so a target the machine cannot meet is told apart from one the code misses.
Started by bench/submit.py after its main run, on the same simulators: `python bench/submit_floor.py api|worker
SPEC.json`, the spec holding `amqp_url`, `database_url`, `queue`, `agencies` ({name: connector settings}),
`port`, `count`, `concurrency`, `prefetch`. bench/submit.py deletes the queue afterwards.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pika
import psycopg
from pika.adapters.asyncio_connection import AsyncioConnection
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.registry import discover  # noqa: E402

POOL = 8
TABLE = """CREATE TABLE IF NOT EXISTS floor_application (id varchar(36) PRIMARY KEY, agency varchar(32) NOT NULL,
           service varchar(64) NOT NULL, payload jsonb NOT NULL, status varchar(16) NOT NULL,
           reference varchar(200))"""


class Pool:
    """A few autocommit connections, taken in turn (psycopg_pool is not a dependency of Gerbang)."""

    def __init__(self) -> None:
        self._free: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()

    async def open(self, url: str, size: int = POOL) -> Pool:
        for _ in range(size):
            self._free.put_nowait(await psycopg.AsyncConnection.connect(url, autocommit=True))
        return self

    async def execute(self, sql: str, params: tuple[Any, ...]) -> None:
        connection = await self._free.get()
        try:
            await connection.execute(sql, params, prepare=True)
        finally:
            self._free.put_nowait(connection)


async def _open(url: str) -> AsyncioConnection:
    loop = asyncio.get_running_loop()
    opened: asyncio.Future[AsyncioConnection] = loop.create_future()
    AsyncioConnection(pika.URLParameters(url), custom_ioloop=loop, on_open_callback=opened.set_result,
                      on_open_error_callback=lambda _, exc: opened.set_exception(RuntimeError(str(exc))))
    return await opened


async def _channel(connection: AsyncioConnection) -> Any:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    connection.channel(on_open_callback=future.set_result)
    return await future


async def _call(method: Any, *args: Any, **kwargs: Any) -> Any:
    """A pika channel method that answers through `callback=`, awaited."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    method(*args, callback=future.set_result, **kwargs)
    return await future


class Application(BaseModel):
    """The body of a submission, as Gerbang's API takes it (without its schema checks)."""

    nik: str
    agency: str
    service: str
    payload: dict[str, Any]


def api(spec: dict[str, Any]) -> None:
    import contextlib
    from collections.abc import AsyncIterator

    import uvicorn
    from fastapi import FastAPI

    state: dict[str, Any] = {}
    properties = pika.BasicProperties(delivery_mode=2, content_type="application/json")

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["db"] = await Pool().open(spec["database_url"])
        connection = await _open(spec["amqp_url"])
        channel = await _channel(connection)
        await _call(channel.queue_declare, spec["queue"], durable=True, arguments={"x-queue-type": "quorum"})

        def on_confirm(frame: Any) -> None:
            if not isinstance(frame.method, pika.spec.Basic.Ack):
                print("the broker refused a message", file=sys.stderr)

        await _call(channel.confirm_delivery, on_confirm)
        state["channel"] = channel
        yield
        connection.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/applications", status_code=202)
    async def submit(body: Application) -> dict[str, str]:
        app_id = str(uuid.uuid4())
        await state["db"].execute("INSERT INTO floor_application (id, agency, service, payload, status) "
                                  "VALUES (%s, %s, %s, %s, 'accepted')",
                                  (app_id, body.agency, body.service, psycopg.types.json.Jsonb(body.payload)))
        message = {"id": app_id, "agency": body.agency, "service": body.service, "payload": body.payload}
        state["channel"].basic_publish("", spec["queue"], json.dumps(message).encode(), properties, mandatory=True)
        return {"id": app_id}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=spec["port"], log_level="error", access_log=False)


async def worker(spec: dict[str, Any]) -> dict[str, Any]:
    plugins = discover()
    connectors = {name: plugins[name].create(config) for name, config in spec["agencies"].items()}
    db = await Pool().open(spec["database_url"])
    connection = await _open(spec["amqp_url"])
    channel = await _channel(connection)
    await _call(channel.queue_declare, spec["queue"], durable=True, arguments={"x-queue-type": "quorum"})
    await _call(channel.basic_qos, prefetch_count=spec["prefetch"])
    gates = {name: asyncio.Semaphore(spec["concurrency"]) for name in connectors}
    finished = asyncio.Event()
    done = errors = 0
    tasks: set[asyncio.Task[None]] = set()

    async def submit(delivery_tag: int, message: dict[str, Any]) -> None:
        nonlocal done, errors
        reference = None
        async with gates[message["agency"]]:
            try:
                result = await connectors[message["agency"]].submit(message["service"], message["payload"],
                                                                     message["id"])
                reference = result.reference
            except Exception:
                errors += 1
        await db.execute("UPDATE floor_application SET status = %s, reference = %s WHERE id = %s",
                         ("submitted" if reference else "rejected", reference, message["id"]))
        channel.basic_ack(delivery_tag)
        done += 1
        if done == spec["count"]:
            finished.set()

    def on_message(_channel: Any, method: Any, _properties: Any, raw: bytes) -> None:
        task = asyncio.ensure_future(submit(method.delivery_tag, json.loads(raw)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    await _call(channel.basic_consume, spec["queue"], on_message)
    print("ready", flush=True)
    await finished.wait()
    connection.close()  # the queue is bench/submit.py's to delete, whether or not the run got this far
    for connector in connectors.values():
        await connector.aclose()
    return {"done": done, "errors": errors}


async def create_table(spec: dict[str, Any]) -> None:
    async with await psycopg.AsyncConnection.connect(spec["database_url"], autocommit=True) as connection:
        await connection.execute(TABLE)


if __name__ == "__main__":
    mode, given = sys.argv[1], json.loads(Path(sys.argv[2]).read_text())
    if mode == "api":
        asyncio.run(create_table(given))
        api(given)
    else:
        print(json.dumps(asyncio.run(worker(given))), flush=True)
