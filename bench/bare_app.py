"""The yardstick for bench/lookup.py: a bare FastAPI endpoint returning a record-sized JSON body from memory."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI

app = FastAPI()
BODY: dict[str, Any] = json.loads(Path(os.environ["BENCH_BODY"]).read_text())


@app.get("/v1/citizens/{nik}")
async def citizen(nik: str, purpose: str = "") -> dict[str, Any]:
    return BODY
