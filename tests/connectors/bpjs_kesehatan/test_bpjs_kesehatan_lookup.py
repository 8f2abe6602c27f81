"""Client against the simulator over real HTTP on loopback: lookups, authentication, every fault mode, health."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import httpx
import pytest

from connectors.base import (
    AgencyAccessDenied, AgencyProtocolError, AgencyRejected, AgencyTimeout, AgencyUnavailable, FacetStatus,
    NotSupported,
)
from connectors.bpjs_kesehatan import crypto
from connectors.bpjs_kesehatan.client import BpjsKesehatanClient
from connectors.bpjs_kesehatan.simulator import DEFAULT_CONS_ID, DEFAULT_SECRET, DEFAULT_USER_KEY
from connectors.bpjs_kesehatan.facet import HealthInsurance
from mappings.engine import load_mapping


def signed(timestamp: str | None = None) -> dict[str, str]:
    return crypto.signed_headers(DEFAULT_CONS_ID, DEFAULT_SECRET, DEFAULT_USER_KEY,
                                 timestamp or crypto.timestamp_now())


def test_found_participant_comes_back_decrypted(bpjs) -> None:
    person, membership = bpjs.pick(card=True, active=True)
    result = bpjs.call("lookup", person.nik)
    assert result.status is FacetStatus.ok and result.agency == "bpjs_kesehatan" and result.agency_code == "200"
    fields = result.fields
    assert fields["nik"] == person.nik and fields["noKartu"] == membership.card_number
    assert len(fields["noKartu"]) == 13 and fields["noKartu"].isdigit()
    assert fields["nama"] == person.name and fields["tglLahir"] == person.birth_date.isoformat()
    assert fields["sex"] == person.sex
    assert fields["statusPeserta"] == {"kode": "0", "keterangan": "AKTIF"}
    assert fields["hakKelas"]["keterangan"].startswith("KELAS ")
    assert fields["provUmum"]["kdProvider"] == membership.clinic.code
    assert {"jenisPeserta", "tglTMT", "tglTAT", "mr", "cob", "informasi", "umur"} <= set(fields)


def test_unknown_participant_is_not_found(bpjs) -> None:
    person, _ = bpjs.pick(card=False)
    result = bpjs.call("lookup", person.nik)
    assert result.status is FacetStatus.not_found and result.agency_code == "201" and not result.fields


def test_nik_unknown_to_the_population_is_not_found(bpjs) -> None:
    assert bpjs.population.by_nik("3273010101900001") is None
    assert bpjs.call("lookup", "3273010101900001").status is FacetStatus.not_found


def test_conflict_person_holds_another_spelling(bpjs) -> None:
    person, membership = bpjs.pick(card=True, conflict=True)
    fields = bpjs.call("lookup", person.nik).fields
    assert (fields["nama"], fields["tglLahir"]) != (person.name, person.birth_date.isoformat())
    assert (fields["nama"], fields["tglLahir"]) == (membership.name, membership.birth_date.isoformat())


def test_mapping_turns_a_real_lookup_into_the_facet_model(bpjs) -> None:
    person, membership = bpjs.pick(card=True, active=False)
    model = load_mapping("bpjs_kesehatan").apply(dict(bpjs.call("lookup", person.nik).fields))
    assert isinstance(model, HealthInsurance)
    assert model.card_number == membership.card_number and model.nik == person.nik
    assert model.full_name == membership.name and model.birth_date == membership.birth_date
    assert model.sex == person.sex and model.active is False and model.status == membership.status[1]
    if membership.status[0] == "9":  # NON AKTIF KARNA PREMI: provUmum's members are null
        assert model.clinic is None
    else:
        assert model.clinic is not None and model.clinic.code == membership.clinic.code
    assert model.care_class == int(membership.class_code) and model.coverage_end == membership.tat


def test_active_participant_keeps_its_real_coverage_end(bpjs) -> None:
    person, membership = bpjs.pick(card=True, active=True)
    fields = bpjs.call("lookup", person.nik).fields
    model = load_mapping("bpjs_kesehatan").apply(dict(fields))
    assert fields["tglTAT"] != "2099-12-31" and fields["tglTAT"].endswith("-12-31")
    assert model.active is True and model.coverage_end == membership.tat and model.coverage_start is not None


def test_simulator_shows_the_real_status_table(bpjs, registry) -> None:
    """9 is NON AKTIF KARNA PREMI with provUmum members null; some names come in lower case; no 2099 end."""
    cards = [registry.membership(p) for p in bpjs.population.people]
    cards = [m for m in cards if m is not None]
    premium = next(m for m in cards if m.status == ("9", "NON AKTIF KARNA PREMI"))
    peserta = premium.peserta(dt.date(2024, 1, 2), dt.date(2024, 1, 2))
    assert peserta["provUmum"] == {"kdProvider": None, "nmProvider": None}
    assert any(m.lower_name for m in cards) and not all(m.lower_name for m in cards)
    assert all(m.tat != dt.date(2099, 12, 31) for m in cards)
    assert {m.status[0] for m in cards} >= {"0", "9"}


@pytest.mark.parametrize("override", [{"secret": "wrong-secret"}, {"user_key": "wrong-key"}, {"cons_id": "9999"}])
def test_bad_credentials_are_refused_by_the_simulator(bpjs, override) -> None:
    with pytest.raises(AgencyAccessDenied) as caught:
        bpjs.call("lookup", bpjs.population.people[0].nik, **override)
    assert caught.value.code == "403" and not caught.value.transient


def test_stale_timestamp_is_refused(bpjs) -> None:
    client = BpjsKesehatanClient(url=bpjs.url, cons_id=DEFAULT_CONS_ID, secret=DEFAULT_SECRET,
                                 user_key=DEFAULT_USER_KEY, clock=lambda: time.time() - 3600)
    with pytest.raises(AgencyAccessDenied, match="X-timestamp"):
        bpjs.call("lookup", bpjs.population.people[0].nik, client=client)


def test_simulator_refuses_unsigned_and_malformed_requests(bpjs) -> None:
    nik = bpjs.population.people[0].nik
    unsigned = httpx.get(f"{bpjs.url}/Peserta/nik/{nik}/tglSEP/2024-01-02", timeout=5)
    assert unsigned.status_code == 403 and "json" not in unsigned.headers["content-type"]
    half = {k: v for k, v in signed().items() if k != "X-signature"}
    assert httpx.get(f"{bpjs.url}/Peserta/nik/{nik}/tglSEP/2024-01-02", headers=half,
                     timeout=5).status_code == 403
    bad_date = httpx.get(f"{bpjs.url}/Peserta/nik/{nik}/tglSEP/02-01-2024", headers=signed(), timeout=5).json()
    assert bad_date["metaData"]["code"] == "400"
    future = httpx.get(f"{bpjs.url}/Peserta/nik/{nik}/tglSEP/2999-01-01", headers=signed(), timeout=5).json()
    assert future["metaData"]["code"] == "400"
    bad_nik = httpx.get(f"{bpjs.url}/Peserta/nik/12345/tglSEP/2024-01-02", headers=signed(), timeout=5).json()
    assert bad_nik["metaData"] == {"code": "400", "message": "NIK harus 16 digit angka"}


def test_simulator_encrypts_with_the_callers_timestamp(bpjs) -> None:
    person, membership = bpjs.pick(card=True)
    timestamp = str(int(time.time()) - 100)  # inside the allowed skew, and not "now"
    body = httpx.get(f"{bpjs.url}/Peserta/nik/{person.nik}/tglSEP/2024-01-02", headers=signed(timestamp),
                     timeout=5).json()
    assert body["metaData"] == {"code": "200", "message": "OK"}
    data = crypto.unseal(body["response"], DEFAULT_CONS_ID, DEFAULT_SECRET, timestamp)
    assert data["peserta"]["noKartu"] == membership.card_number
    with pytest.raises(crypto.EnvelopeCryptoError):
        crypto.unseal(body["response"], DEFAULT_CONS_ID, DEFAULT_SECRET, str(int(timestamp) + 1))


def test_garbage_mode_is_a_protocol_error(bpjs) -> None:
    bpjs.faults("garbage")
    with pytest.raises(AgencyProtocolError, match="AES blocks"):
        bpjs.call("lookup", bpjs.population.people[0].nik)


def test_down_mode_is_unavailable(bpjs) -> None:
    bpjs.faults("down")
    with pytest.raises(AgencyUnavailable) as caught:
        bpjs.call("lookup", bpjs.population.people[0].nik)
    assert not isinstance(caught.value, AgencyTimeout) and caught.value.transient


def test_error_mode_is_the_agencys_500_envelope(bpjs) -> None:
    bpjs.faults("error")
    with pytest.raises(AgencyUnavailable) as caught:
        bpjs.call("lookup", bpjs.population.people[0].nik)
    assert caught.value.code == "500"


def test_slow_mode_with_a_short_timeout_times_out(bpjs) -> None:
    bpjs.faults("slow", delay_ms=1500)
    started = time.monotonic()
    with pytest.raises(AgencyTimeout):
        bpjs.call("lookup", bpjs.population.people[0].nik, timeout_s="0.3")
    assert time.monotonic() - started < 1.4


def test_slow_mode_within_the_timeout_still_answers(bpjs) -> None:
    bpjs.faults("slow", delay_ms=200)
    person, _ = bpjs.pick(card=True)
    assert bpjs.call("lookup", person.nik).status is FacetStatus.ok


def test_one_client_serves_concurrent_lookups(bpjs) -> None:
    people = bpjs.population.people[:12]
    client = bpjs.client()

    async def go() -> list:
        try:
            return await asyncio.gather(*(client.lookup(p.nik) for p in people))
        finally:
            await client.aclose()

    results = asyncio.run(go())
    assert [r.fields.get("nik") for r in results if r.status is FacetStatus.ok] == [
        p.nik for p in people if bpjs.registry.membership(p) is not None]
    assert bpjs.stats()["requests"] == len(people)


def test_health_is_up_and_down_with_the_simulator(bpjs) -> None:
    health = bpjs.call("health")
    assert health.up and health.latency_ms is not None and health.agency == "bpjs_kesehatan"
    assert not bpjs.call("health", secret="wrong").up
    bpjs.faults("down")
    down = bpjs.call("health")
    assert not down.up and "AgencyUnavailable" in (down.detail or "")


def test_invalid_nik_is_refused_before_any_call(bpjs) -> None:
    with pytest.raises(AgencyRejected):
        bpjs.call("lookup", "12345")
    assert bpjs.stats()["requests"] == 0


def test_verify_is_not_supported(bpjs) -> None:
    with pytest.raises(NotSupported):
        bpjs.call("verify", bpjs.population.people[0].nik, {"nama": "X"})
