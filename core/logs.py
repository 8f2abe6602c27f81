"""Logging set-up for every Gerbang process.

Personal data must not reach plain logs (UU PDP): HTTP client libraries log full URLs at INFO — and some agency
URLs carry a NIK (BPJS `Peserta/nik/{nik}`) — so they are held at WARNING; uvicorn's access log (paths carry
NIKs too) is never enabled.
"""

from __future__ import annotations

import logging

QUIET = ("httpx", "httpcore", "zeep", "pika", "uvicorn.access")


def setup(level: str = "INFO") -> None:
    """Configure the root logger once per process."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
