"""The API's uvicorn server for `gerbang serve` and `gerbang demo`, patient with a doubled Ctrl-C."""

from __future__ import annotations

import signal
import time
from types import FrameType

import uvicorn

REPEAT_S = 1.0


class PatientServer(uvicorn.Server):
    """uvicorn's server, except that a second Ctrl-C within `REPEAT_S` of the first counts as the same request.

    Why: uvicorn force-quits on a second SIGINT, skipping the app's shutdown (the outbox dispatcher, the audit
    sequencer, the connectors' clients) and logging a CancelledError traceback — and an impatient double press,
    or a terminal that signals twice, is not a request to abandon work. A Ctrl-C after that still forces."""

    _first_exit_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self._first_exit_at is None:
            self._first_exit_at = now
        elif sig == signal.SIGINT and now - self._first_exit_at < REPEAT_S:
            return
        super().handle_exit(sig, frame)
