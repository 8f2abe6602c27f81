"""No NIK, name or birth date in any log line.

A full scenario — lookups for every purpose, verifications, a submission to every agency (payloads carry names
and birth dates), agencies failing in every way (garbage, errors, hostile SOAP, down), invalid input, a connector
crashing with a NIK in its exception — runs with every logger at DEBUG while every log record the process creates
is captured (whichever logger, handler or thread), plus everything written to stdout/stderr. None of the sample
people's NIKs, names or birth dates may appear. Plus unit checks of the redaction itself.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from core.logs import QUIET, install_redaction, redact
from tests.core.bus.helpers import FAST, SUPPLY, wait_status
from tests.core.conftest import POPULATION
from core.api.state import app_state

ALL_PURPOSES = ["identity_check", "passport_application", "sim_renewal", "vehicle_tax", "business_licensing",
                "health_insurance", "employment_insurance"]
ALIVE = [p for p in POPULATION.people if p.life_status == "alive" and p.in_dukcapil]
FORMAT = logging.Formatter("%(name)s %(levelname)s %(message)s")
CONTEXT = {"Officer-Id": "petugas-07", "Counter-Id": "loket-3", "Mpp-Site": "mpp-depok"}


@pytest.fixture
def captured() -> Iterator[list[str]]:
    """Every log record created in this process while the test runs (redacted as production would), as text."""
    install_redaction()
    lines: list[str] = []
    inner = logging.getLogRecordFactory()

    def collect(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = inner(*args, **kwargs)
        lines.append(FORMAT.format(record))  # message, exception text and stack, as a handler would write them
        if record.exc_info:
            record.exc_text = None  # unredacted: let the real handlers format it themselves
        return record

    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", *QUIET, "uvicorn", "uvicorn.error")}
    root.setLevel(logging.DEBUG)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    for name in QUIET:  # as core.logs.setup leaves them
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.setLogRecordFactory(collect)
    try:
        yield lines
    finally:
        logging.setLogRecordFactory(inner)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def secrets_of(people: list[Any]) -> list[str]:
    out: list[str] = []
    for person in people:
        out += [person.nik, person.name, person.birth_date.isoformat(), person.birth_date.strftime("%d-%m-%Y")]
        out += [part for part in person.name.split() if len(part) >= 6]  # a distinctive part of the name
    return out


def test_redaction_masks_personal_data() -> None:
    text = ('lookup 3276014101990001: {"NAMA_LGKP": "BUDI SANTOSO", "TGL_LHR": "01-05-1990"} '
            "{'full_name': 'SITI AMINAH', 'birth_date': datetime.date(1990, 5, 1)} name=AGUS SALIM; "
            "<tns:namaLengkap>DEWI LESTARI</tns:namaLengkap> born 1990-05-01 "
            "[type=string_too_long, input_value='RUDI HARTONO', input_type=str]")
    out = redact(text)
    for secret in ("3276014101990001", "BUDI", "01-05-1990", "SITI", "1990, 5, 1", "AGUS", "DEWI", "1990-05-01",
                   "RUDI"):
        assert secret not in out, (secret, out)
    assert redact("checkpoint 12 signed at 2026-01-02T03:04:05Z, outbox row 42") == \
        "checkpoint 12 signed at 2026-01-02T03:04:05Z, outbox row 42"


def test_tracebacks_and_arguments_are_redacted(captured: list[str]) -> None:
    log = logging.getLogger("gerbang.test")
    log.info("asked %s about %s", "3276014101990001", {"nama": "BUDI SANTOSO"})
    try:
        raise ValueError("NIK 3276014101990001 nama: BUDI SANTOSO")
    except ValueError:
        log.exception("failed")
    text = "\n".join(captured)
    assert "ValueError" in text and "failed" in text
    assert "3276014101990001" not in text and "BUDI" not in text


def test_full_scenario_logs_no_personal_data(make_api, add_client, set_fault, captured,  # type: ignore[no-untyped-def]
                                             capfd) -> None:
    api = make_api(**FAST)
    headers = {"Authorization": "Bearer " + add_client(
        "counter", ["citizen:read:*", "citizen:verify", "application:submit:*", "application:read"], ALL_PURPOSES),
        **CONTEXT}
    people = ALIVE[:6]

    for person in people[:3]:
        for purpose in ALL_PURPOSES:
            assert api.get(f"/v1/citizens/{person.nik}", headers=headers, params={"purpose": purpose}
                           ).status_code == 200
        right = {"full_name": person.name, "birth_date": person.birth_date.isoformat()}
        wrong = {"full_name": person.name + " X", "birth_date": "1901-01-01"}
        for claims in (right, wrong):
            assert api.post(f"/v1/citizens/{person.nik}/verify", headers=headers,
                            params={"purpose": "identity_check"}, json=claims).status_code == 200
    # failures of every kind, on the other people (nothing cached for them)
    for agency, mode in [("korlantas", "garbage"), ("imigrasi", "billion_laughs"),
                         ("bpjs_ketenagakerjaan", "external_entity"), ("bpjs_kesehatan", "error"), ("oss", "down"),
                         ("samsat", "garbage")]:
        set_fault(agency, mode)
    for person in people[3:5]:
        for purpose in ("sim_renewal", "passport_application", "business_licensing", "vehicle_tax"):
            assert api.get(f"/v1/citizens/{person.nik}", headers=headers, params={"purpose": purpose}
                           ).status_code == 200
    set_fault("dukcapil", "garbage")
    assert api.get(f"/v1/citizens/{people[5].nik}", headers=headers,
                   params={"purpose": "identity_check"}).status_code == 503
    for agency in ("dukcapil", "korlantas", "imigrasi", "bpjs_ketenagakerjaan", "bpjs_kesehatan", "oss", "samsat"):
        set_fault(agency, "ok")
    # bad input carrying personal data
    bad = people[0].nik[:-1] + str((int(people[0].nik[-1]) + 5) % 10)
    api.get(f"/v1/citizens/{bad}", headers=headers, params={"purpose": "identity_check"})
    api.post(f"/v1/citizens/{people[0].nik}/verify", headers=headers, params={"purpose": "identity_check"},
             json={"full_name": people[0].name * 40})
    api.post("/v1/applications", headers={**headers, "Idempotency-Key": "bad-1"},
             json={"nik": people[0].nik, "agency": "imigrasi", "service": "passport_application",
                   "payload": {"nik": people[0].nik, "namaLengkap": people[0].name, "tanggalLahir": "x"}})
    # a submission to every agency, one of them against an agency answering garbage (retried, logged)
    set_fault("samsat", "garbage")
    submitted = []
    for agency in ("oss", "samsat", "korlantas", "imigrasi", "bpjs_kesehatan", "bpjs_ketenagakerjaan"):
        request = SUPPLY.fresh(agency) if agency not in ("oss", "samsat") else SUPPLY.repeatable(agency)
        people.append(next(p for p in POPULATION.people if p.nik == request["nik"]))
        reply = api.post("/v1/applications", json=request,
                         headers={**headers, "Idempotency-Key": str(uuid.uuid4())})
        assert reply.status_code == 202, reply.text
        submitted.append(reply.json()["id"])
    for app_id in submitted[:1] + submitted[2:]:
        wait_status(api, headers, app_id)
    set_fault("samsat", "ok")
    wait_status(api, headers, submitted[1])
    # a connector that crashes with personal data in its exception
    registry = app_state(api.app).agencies
    passports = registry.by_facet()["passports"]
    original = passports.connector.lookup

    async def crashing(nik: str) -> Any:
        raise RuntimeError(f"cannot handle {nik}")

    passports.connector.lookup = crashing
    try:
        assert api.get(f"/v1/citizens/{people[1].nik}", headers=headers,
                       params={"purpose": "passport_application", "refresh": "true"}).status_code == 200
    finally:
        passports.connector.lookup = original

    out, err = capfd.readouterr()
    text = "\n".join(captured) + out + err
    assert len(captured) > 10  # the scenario did log (warnings, retries, the crash)
    assert "RuntimeError" in text
    leaks = [s for s in secrets_of(people) if s in text]
    assert not leaks, f"personal data in logs: {leaks[:5]}"
