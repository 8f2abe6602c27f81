"""Logging set-up for every Gerbang process, and the redaction every log record goes through.

Personal data must not reach plain logs (UU 27/2022 on personal data protection): HTTP client libraries log full
URLs at INFO — and some agency URLs carry a NIK (BPJS `Peserta/nik/{nik}`) — so they are held at WARNING;
uvicorn's access log (paths carry NIKs too) is never enabled.

Those are precautions; the guarantee is `install_redaction()`: a log-record factory, so *every* record created in
the process — by any logger, whichever handler later writes it (ours, uvicorn's, a test's) — has its message,
arguments, exception text and stack already redacted. It removes what could identify a person: any run of 16
digits (a NIK or KK number), the value of any field whose name says name, birth date or place, address, parent's
name, NIK or KK (as JSON, Python repr, key=value or XML element), pydantic's echo of invalid input, and bare
calendar dates (a birth date logged on its own). Redacting at creation costs one regex pass per record actually
emitted; disabled levels create no record and cost nothing.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

QUIET = ("httpx", "httpcore", "zeep", "pika", "uvicorn.access")
MASK = "[redacted]"
NIK_MASK = "[nik]"
DATE_MASK = "[date]"

_KEYS = (r"nik|no_?kk|kk_number|nomor_kk|full_?name|name|nama\w*|nm_\w+|"
         r"birth_?date|birth_?place|date_of_birth|dob|tgl_?lh?r|tgl_lahir|tanggal_?lahir|tmpt_?lhr|tempat_?lahir|"
         r"mother_?name|father_?name|ibu_?kandung|alamat|address|jalan|street")
# "key": "value" / 'key': 'value' / key=value / key: value (quoted value, or up to the next separator)
_KEY_VALUE = re.compile(
    rf"""(?ix)
    (?P<key>["']?\b(?:{_KEYS})\b["']?\s*[:=]\s*)
    (?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^,;&\n\r}}\])<\[\s][^,;&\n\r}}\])<]*)""")
_XML_ELEMENT = re.compile(rf"(?i)(<(?:[\w.-]+:)?(?:{_KEYS})\b[^>/]*>)([^<]+)(?=</)")
_INPUT_VALUE = re.compile(r"input_value=.*?(?=, input_type=|$)", re.MULTILINE)
_DIGITS = re.compile(r"(?<![0-9])[0-9]{16}(?![0-9])")
_DATE_REPR = re.compile(r"datetime\.date(?:time)?\([^)]*\)")
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


_installed: list[Any] = []


def install_redaction() -> None:
    """Make every log record of this process redacted at creation (idempotent)."""
    if _installed:
        return
    base = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
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


def setup(level: str = "INFO") -> None:
    """Configure the root logger once per process, redaction first."""
    install_redaction()
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
