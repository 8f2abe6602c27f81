"""Logging set-up for every Gerbang process, and the redaction every log record goes through.

Personal data must not reach plain logs (UU 27/2022 on personal data protection): HTTP client libraries log full
URLs at INFO — and some agency URLs carry a NIK (`Peserta/nik/{nik}`) — so they are held at WARNING;
uvicorn's access log (paths carry NIKs too) is never enabled.

Those are precautions; the guarantee is `install_redaction()`: a log-record factory, so *every* record created in
the process — by any logger, whichever handler later writes it (ours, uvicorn's, a test's) — has its message,
arguments, exception text and stack already redacted. It removes what could identify a person: any run of 16
digits (a NIK or KK number), the value of any field whose name says name, birth date or place, address, parent's
name, NIK or KK (as JSON, Python repr, key=value or XML element), pydantic's echo of invalid input, and bare
calendar dates (a birth date logged on its own). Redacting at creation costs one regex pass per record actually
emitted; disabled levels create no record and cost nothing.

The same factory stamps every record with the request id and trace id of the request it was logged in
(contextvars set by core/ops/middleware.py), and `setup()` writes records as text or as one JSON object per line
(GERBANG_LOG_FORMAT). The JSON formatter only serialises the already-redacted record.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import traceback
from contextvars import ContextVar
from typing import Any

from connectors import tracing

QUIET = ("httpx", "httpcore", "zeep", "pika", "uvicorn.access")
MASK = "[redacted]"
NIK_MASK = "[nik]"
DATE_MASK = "[date]"

_KEYS = (
    r"nik|no_?kk|kk_number|nomor_kk|full_?name|name|nama\w*|nm_\w+|"
    r"birth_?date|birth_?place|date_of_birth|dob|tgl_?lh?r|tgl_lahir|tanggal_?lahir|tmpt_?lhr|tempat_?lahir|"
    r"mother_?name|father_?name|ibu_?kandung|alamat|address|jalan|street"
)
# "key": "value" / 'key': 'value' / key=value / key: value (quoted value, or up to the next separator)
_KEY_VALUE = re.compile(
    rf"""(?ix)
    (?P<key>["']?\b(?:{_KEYS})\b["']?\s*[:=]\s*)
    (?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^,;&\n\r}}\])<\[\s][^,;&\n\r}}\])<]*)"""
)
_XML_ELEMENT = re.compile(rf"(?i)(<(?:[\w.-]+:)?(?:{_KEYS})\b[^>/]*>)([^<]+)(?=</)")
_INPUT_VALUE = re.compile(r"input_value=.*?(?=, input_type=|$)", re.MULTILINE)
_DIGITS = re.compile(r"(?<![0-9])[0-9]{16}(?![0-9])")
_DATE_REPR = re.compile(r"datetime\.date(?:time)?\([^()]*\)")  # [^()]: each scan ends at the next "(" (linear)
_DATES = re.compile(r"(?<![\w-])(?:[0-9]{4}-[0-9]{2}-[0-9]{2}(?![0-9T:])|[0-9]{2}[-/][0-9]{2}[-/][0-9]{4})(?![0-9])")


def redact(text: str) -> str:
    """`text` with NIKs, named personal fields and bare dates masked."""
    if not text:
        return text
    text = _INPUT_VALUE.sub("input_value=" + MASK, text)
    text = _DATE_REPR.sub(DATE_MASK, text)
    text = _XML_ELEMENT.sub(lambda m: m.group(1) + MASK, text)
    text = _KEY_VALUE.sub(_mask_value, text)
    text = _DIGITS.sub(NIK_MASK, text)
    return _DATES.sub(DATE_MASK, text)


def _mask_value(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('key')}{quote}{MASK}{quote}"


request_id: ContextVar[str | None] = ContextVar("gerbang_request_id", default=None)
"""The id of the request being served (X-Request-Id), set by core/ops/middleware.py."""

_installed: list[Any] = []


def install_redaction() -> None:
    """Make every log record of this process redacted at creation (idempotent)."""
    if _installed:
        return
    base = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        trace = tracing.current.get()
        record.request_id = request_id.get()
        record.trace_id = trace.trace_id if trace is not None else None
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string: keep what can be shown, redacted
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
            record.exc_info = None  # the text above is what handlers print; the objects may hold personal data
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)
    _installed.append(factory)


class TextFormatter(logging.Formatter):
    """The classic line, with the request and trace ids when the record was logged while serving a request."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(ids)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid, trace = getattr(record, "request_id", None), getattr(record, "trace_id", None)
        record.ids = f" [request_id={rid or '-'} trace_id={trace or '-'}]" if rid or trace else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id, trace_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "trace_id"):
            value = getattr(record, key, None)
            if value:
                entry[key] = value
        if record.exc_info and not record.exc_text:  # only when redaction was bypassed (a foreign factory)
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter(fmt: str) -> logging.Formatter:
    """The formatter for GERBANG_LOG_FORMAT: "json" or "text"."""
    if fmt == "json":
        return JsonFormatter()
    if fmt == "text":
        return TextFormatter()
    raise ValueError(f"log format must be json or text, not {fmt!r}")


def setup(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once per process, redaction first, in the given format (text or json)."""
    install_redaction()
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(fmt))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
