"""Log formats (GERBANG_LOG_FORMAT): JSON lines with request and trace ids, text lines; redaction in both."""

from __future__ import annotations

import json
import logging

import pytest

from connectors import tracing
from core.logs import formatter, install_redaction, request_id

NIK = "3276014101990001"


def record_in_request(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    install_redaction()
    rid = request_id.set("req-1")
    trace = tracing.current.set(tracing.Trace("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01"))
    try:
        exc_info = None
        if exc:
            try:
                raise ValueError(f"bad nik {NIK}")
            except ValueError:
                import sys
                exc_info = sys.exc_info()
        return logging.getLogger("gerbang.test").makeRecord("gerbang.test", logging.ERROR, __file__, 1, message,
                                                            args, exc_info)
    finally:
        tracing.current.reset(trace)
        request_id.reset(rid)


def test_json_lines_carry_ids_and_stay_redacted() -> None:
    line = formatter("json").format(record_in_request("lookup of %s failed: nama=%s", NIK, "BUDI", exc=True))
    entry = json.loads(line)
    assert entry["request_id"] == "req-1" and entry["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert entry["level"] == "ERROR" and entry["logger"] == "gerbang.test" and entry["time"].endswith("+00:00")
    assert NIK not in line and "BUDI" not in line
    assert "ValueError" in entry["exception"]


def test_text_lines_carry_ids_outside_requests_none() -> None:
    line = formatter("text").format(record_in_request("hello"))
    assert line.endswith(" ERROR gerbang.test [request_id=req-1 trace_id=4bf92f3577b34da6a3ce929d0e0e4736]: hello")
    plain = logging.getLogger("gerbang.test").makeRecord("gerbang.test", logging.INFO, __file__, 1, "bye", (), None)
    assert formatter("text").format(plain).endswith(" INFO gerbang.test: bye")
    assert "request_id" not in json.loads(formatter("json").format(plain))


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError):
        formatter("xml")


def test_setting_accepts_only_known_formats() -> None:
    from pydantic import ValidationError

    from core.settings import Settings

    assert Settings(log_format="json", agency_env={}).log_format == "json"
    with pytest.raises(ValidationError):
        Settings(log_format="xml", agency_env={})
