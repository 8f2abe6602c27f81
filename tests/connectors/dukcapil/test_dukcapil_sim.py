"""The Dukcapil client against its simulator over real HTTP on loopback: data, quirks, codes, faults, quota."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from connectors.base import (
    AgencyAccessDenied,
    AgencyProtocolError,
    AgencyRejected,
    AgencyTimeout,
    AgencyUnavailable,
    FacetStatus,
    LifeStatus,
    NotSupported,
)
from connectors.dukcapil import PLUGIN
from connectors.dukcapil.client import DukcapilClient
from connectors.dukcapil.simdata import person_fields
from connectors.dukcapil.simulator import DEFAULT_PASSWORD, DEFAULT_USER_ID
from identity.clock import WIB


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def nik_body(nik: object) -> dict[str, object]:
    return {"NIK": nik, "user_id": DEFAULT_USER_ID, "password": DEFAULT_PASSWORD, "ip_user": "127.0.0.1"}


# --- found -----------------------------------------------------------------------------------------------------
def test_found_person_has_dukcapil_fields_and_no_code(other_sim) -> None:
    with other_sim(field_sets=("full",)) as sim:
        person = sim.ordinary()
        result = sim.call("lookup", person.nik)
        raw = sim.raw("CALL_NIK", nik_body(person.nik)).json()["content"][0]
    assert result.status is FacetStatus.ok
    assert result.life_status is LifeStatus.alive
    assert result.agency_code is None and "RESPONSE_CODE" not in raw and len(raw) == 34
    f = result.fields
    assert f["NIK"] == person.nik and f["NO_KK"] == person.kk_number
    assert f["NAMA_LGKP"].rstrip() == person.name
    assert f["JENIS_KLMIN"] == ("LAKI-LAKI" if person.sex == "L" else "PEREMPUAN")
    assert f["TGL_LHR"] == person.birth_date.strftime("%d.%m.%Y")
    assert f["KEL_NAME"] == person.village
    assert f["NAMA_LGKP_IBU"] == person.mother_name + " "  # the full set's parents' names end in a space
    # RT/RW and region codes are JSON numbers on the wire; the client hands them on as exact digit strings
    assert isinstance(raw["NO_RT"], int) and isinstance(raw["NO_KEL"], int) and isinstance(raw["NO_PROP"], int)
    assert f["NO_RT"] == str(int(person.rt)) and f["NO_KEL"] == str(int(person.village_code.split(".")[3]))
    assert "RESPONSE_CODE" not in f


def test_field_sets_vary_per_person_and_map(duk, population) -> None:
    """The three shapes seen in public samples all come out of the default simulator and all map."""
    from connectors.dukcapil.simdata import shape_of
    from mappings.engine import load_mapping

    shapes = {}
    for person in population.ordinary()[:40]:
        shapes.setdefault(shape_of(population, person, ("full", "short", "foto")), person)
    assert set(shapes) == {"full", "short", "foto"}
    mapping = load_mapping("dukcapil")
    for shape, person in shapes.items():
        fields = duk.call("lookup", person.nik).fields
        assert "FOTO" not in fields  # the KTP photo never leaves the connector
        model = mapping.apply(dict(fields))
        assert model.nik == person.nik and model.full_name == person.name and model.birth_date == person.birth_date
        assert model.address.rt == person.rt.zfill(3)
        if shape == "short":
            assert model.address.village_code is None and "EKTP_STATUS" not in fields
        else:
            assert model.address.village_code == person.village_code
        if shape == "foto":
            assert fields["JENIS_KLMIN"] in ("Laki-Laki", "Perempuan")


def test_nik_and_kk_are_unquoted_16_digit_json_numbers_kept_exact(duk) -> None:
    # Papuan NIKs (provinces 91-96) lie beyond 2**53: a float would change their last digit.
    person = next(p for p in duk.population.ordinary() if float(int(p.nik)) != int(p.nik))
    text = duk.raw("CALL_NIK", nik_body(person.nik)).text
    assert re.search(rf'"NIK":\s*{person.nik}[,}}]', text)
    assert re.search(rf'"NO_KK":\s*{person.kk_number}[,}}]', text)
    fields = duk.call("lookup", person.nik).fields
    assert fields["NIK"] == person.nik and fields["NO_KK"] == person.kk_number
    assert isinstance(fields["NIK"], str) and len(fields["NIK"]) == 16


def test_nik_may_be_sent_as_a_json_number(duk) -> None:
    person = duk.ordinary(1)
    body = duk.raw("CALL_NIK", nik_body(int(person.nik))).json()
    assert body["content"][0]["NIK"] == int(person.nik)
    assert "RESPONSE_CODE" not in body["content"][0]


def test_some_names_carry_trailing_spaces(duk, population) -> None:
    padded = [p for p in population.ordinary()
              if person_fields(population, p, "dotted")["NAMA_LGKP"] != p.name][:1]
    assert padded, "the population should have names with trailing spaces"
    with_full = person_fields(population, padded[0], "dotted", "full")["NAMA_LGKP"]
    assert with_full != with_full.rstrip() and with_full.rstrip() == padded[0].name


def test_spring_page_envelopes(duk) -> None:
    person = duk.ordinary()
    body = duk.raw("CALL_NIK", nik_body(person.nik)).json()
    assert set(body) == {"content", "lastPage", "numberOfElements", "sort", "totalElements", "firstPage", "number",
                         "size"}
    assert body["numberOfElements"] == 1 and body["sort"] is None
    verify = duk.raw("CALL_VERIFY_BY_ELEMEN", {"USER_ID": DEFAULT_USER_ID, "PASSWORD": DEFAULT_PASSWORD,
                                               "IP_USER": "127.0.0.1", "TRESHOLD": "80", "NIK": person.nik,
                                               "NAMA_LGKP": person.name}).json()
    assert verify["size"] == verify["totalElements"] == 10 and isinstance(verify["quotaLimiter"], int)
    assert verify["content"][0] == {"NAMA_LGKP": "Sesuai (100)", "NIK": "Sesuai"}


@pytest.mark.parametrize("date_format, expected", [("dotted", "%d.%m.%Y"), ("iso", "%Y-%m-%d")])
def test_each_date_format(other_sim, date_format, expected) -> None:
    with other_sim(date_format=date_format) as sim:
        person = sim.ordinary()
        got = sim.call("lookup", person.nik).fields["TGL_LHR"]
    assert got == person.birth_date.strftime(expected)


# --- not found, deceased, inactive, invalid --------------------------------------------------------------------
def test_not_found_is_a_bare_respon(duk) -> None:
    person = duk.ordinary()
    missing = next(person.nik[:12] + f"{s:04d}" for s in range(9999, 1, -1)
                   if not duk.population.by_nik(person.nik[:12] + f"{s:04d}"))
    result = duk.call("lookup", missing)
    assert result.status is FacetStatus.not_found and result.agency_code is None
    assert result.fields == {} and result.life_status is None and result.message == "Data Tidak Ditemukan"
    raw = duk.raw("CALL_NIK", nik_body(missing)).json()
    assert raw["content"] == [{"RESPON": "Data Tidak Ditemukan"}]


def test_valid_nik_unknown_to_dukcapil_is_not_found(duk) -> None:
    result = duk.call("lookup", duk.special("unknown").nik)
    assert result.status is FacetStatus.not_found


def test_deceased_comes_with_data(duk) -> None:
    person = duk.special("deceased")
    result = duk.call("lookup", person.nik)
    assert result.status is FacetStatus.ok and result.life_status is LifeStatus.deceased
    assert result.agency_code == "11" and result.fields["NIK"] == person.nik
    assert "Meninggal" in (result.message or "")


def test_inactive_without_data(duk) -> None:
    result = duk.call("lookup", duk.special("inactive").nik)
    assert result.status is FacetStatus.ok and result.life_status is LifeStatus.inactive
    assert result.agency_code == "14" and result.fields == {}


@pytest.mark.parametrize("nik", ["3276019913850001", "12345"])  # month 13; not sixteen digits
def test_impossible_nik_is_not_found(duk, nik) -> None:
    result = duk.call("lookup", nik)
    assert result.status is FacetStatus.not_found


# --- access ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("overrides, text", [
    ({"password": "wrong"}, "Login Gagal"),
    ({"user": "SOMEONE-ELSE"}, "Login Gagal"),
    ({"ip": "10.20.30.40"}, "IP Address Tidak Sesuai"),
])
def test_bad_credentials_are_access_denied(duk, overrides, text) -> None:
    with pytest.raises(AgencyAccessDenied) as caught:
        duk.call("lookup", duk.ordinary().nik, **overrides)
    assert caught.value.code is None and caught.value.message == text


def test_unknown_institution_path_is_a_protocol_error(duk) -> None:
    with pytest.raises(AgencyProtocolError, match="HTTP 404"):
        duk.call("lookup", duk.ordinary().nik, institution="NOT-REGISTERED")


def test_empty_credentials_and_verify_wants_upper_case_keys(duk) -> None:
    person = duk.ordinary()
    lower = {"user_id": DEFAULT_USER_ID, "password": DEFAULT_PASSWORD, "ip_user": "127.0.0.1", "NIK": person.nik,
             "NAMA_LGKP": person.name}
    assert duk.raw("CALL_VERIFY_BY_ELEMEN", lower).json()["content"][0]["RESPONSE_CODE"] == "03"
    assert duk.raw("CALL_NIK", {"NIK": person.nik}).json()["content"] == [{"RESPON": "Login Gagal"}]


def test_caller_address_not_on_allow_list(other_sim) -> None:
    with other_sim(ip_allow=("10.0.0.1",)) as sim, pytest.raises(AgencyAccessDenied, match="IP Address"):
        sim.call("lookup", sim.ordinary().nik, ip="10.0.0.1")


def test_inactive_user_is_a_failed_login(other_sim) -> None:
    with other_sim(user_active=False) as sim, pytest.raises(AgencyAccessDenied, match="Login Gagal"):
        sim.call("lookup", sim.ordinary().nik)


def test_quota_used_up_then_reset_at_midnight_wib(other_sim) -> None:
    clock = Clock(dt.datetime(2024, 8, 14, 23, 0, tzinfo=WIB))
    with other_sim(daily_quota=2, clock=clock) as sim:
        nik = sim.ordinary().nik
        assert sim.call("lookup", nik).status is FacetStatus.ok
        assert sim.call("lookup", nik).status is FacetStatus.ok
        with pytest.raises(AgencyUnavailable) as caught:
            sim.call("lookup", nik)
        assert caught.value.message == "Kuota Akses Hari ini telah Habis" and caught.value.code is None
        assert caught.value.retry_after_s is not None and 0 < caught.value.retry_after_s <= 86_400
        assert sim.raw("CALL_NIK", nik_body(nik)).json()["content"] == [{"RESPON": "Kuota Akses Hari ini telah Habis"}]
        with pytest.raises(AgencyUnavailable, match="Kuota"):
            sim.call("verify", nik, {"full_name": "X"})
        clock.now = dt.datetime(2024, 8, 15, 0, 0, 1, tzinfo=WIB)  # a new day in Jakarta
        assert sim.call("lookup", nik).status is FacetStatus.ok


# --- verify ----------------------------------------------------------------------------------------------------------
def test_verify_all_match(duk) -> None:
    p = duk.ordinary(2)
    claims = {"full_name": p.name.title(), "birth_date": p.birth_date, "birth_place": p.birth_place,
              "sex": p.sex, "kk_number": p.kk_number, "address": p.street, "mother_name": p.mother_name}
    result = duk.call("verify", p.nik, claims)
    assert result.found and result.agency_code is None and result.life_status is LifeStatus.alive
    assert set(result.fields) == set(claims)
    assert all(matched for matched, _ in result.fields.values())
    assert result.fields["full_name"] == (True, 100)
    assert result.fields["birth_date"] == (True, None)


def test_verify_mismatch_and_fuzzy_scores(duk) -> None:
    p = duk.ordinary(4)
    typo = p.name[:-1] + ("A" if p.name[-1] != "A" else "E")
    other_sex = "P" if p.sex == "L" else "L"
    result = duk.call("verify", p.nik, {"full_name": typo, "sex": other_sex,
                                        "birth_date": (p.birth_date + dt.timedelta(days=1)).isoformat()})
    matched, score = result.fields["full_name"]
    assert matched and score is not None and 80 <= score < 100
    assert result.fields["sex"] == (False, None)
    assert result.fields["birth_date"] == (False, None)
    far = duk.call("verify", p.nik, {"full_name": "ZZZZ QQQQ XXXXXXX"}).fields["full_name"]
    assert far[0] is False and far[1] is not None and far[1] < 80


def test_verify_threshold_from_config(duk) -> None:
    p = duk.ordinary(4)
    typo = p.name[:-1] + ("A" if p.name[-1] != "A" else "E")
    assert duk.call("verify", p.nik, {"full_name": typo}, threshold="100").fields["full_name"][0] is False


def test_verify_not_found_and_deceased(duk) -> None:
    missing = duk.call("verify", duk.special("unknown").nik, {"full_name": "X"})
    assert missing.found is False and missing.agency_code == "13"
    dead = duk.special("deceased")
    result = duk.call("verify", dead.nik, {"full_name": dead.name})
    assert result.found and result.agency_code == "11" and result.fields == {}
    assert result.life_status is LifeStatus.deceased and result.message == "meninggal dunia"


def test_verify_rejects_unknown_claims_before_calling(duk) -> None:
    with pytest.raises(AgencyRejected, match="unknown claim"):
        duk.call("verify", duk.ordinary().nik, {"shoe_size": 42})
    assert duk.stats()["requests"] == 0


# --- faults, stats, health, plugin ------------------------------------------------------------------------------
def test_fault_down_is_unavailable(duk) -> None:
    duk.faults("down")
    with pytest.raises(AgencyUnavailable) as caught:
        duk.call("lookup", duk.ordinary().nik)
    assert not isinstance(caught.value, AgencyTimeout)
    health = duk.call("health")
    assert health.up is False


def test_fault_slow_beyond_timeout_is_timeout(duk) -> None:
    duk.faults("slow", delay_ms=800)
    with pytest.raises(AgencyTimeout):
        duk.call("lookup", duk.ordinary().nik, timeout_s="0.2")


def test_fault_slow_within_timeout_answers(duk) -> None:
    duk.faults("slow", delay_ms=50)
    assert duk.call("lookup", duk.ordinary().nik).status is FacetStatus.ok


def test_fault_error_is_a_gateway_500(duk) -> None:
    duk.faults("error")
    with pytest.raises(AgencyUnavailable, match="HTTP 500"):
        duk.call("lookup", duk.ordinary().nik)


@pytest.mark.parametrize("mode, error, text", [
    ("quota", AgencyUnavailable, "Kuota"), ("login", AgencyAccessDenied, "Login Gagal"),
    ("ip", AgencyAccessDenied, "IP"),
])
def test_fault_switch_for_each_real_error(duk, mode, error, text) -> None:
    duk.faults(mode)
    for call, args in (("lookup", ()), ("verify", ({"full_name": "X"},))):
        with pytest.raises(error, match=text):
            duk.call(call, duk.ordinary().nik, *args)


def test_fault_switch_person_replies(duk) -> None:
    nik = duk.ordinary().nik
    duk.faults("not_found")
    assert duk.call("lookup", nik).status is FacetStatus.not_found
    assert duk.call("verify", nik, {"full_name": "X"}).found is False
    duk.faults("deceased")
    assert duk.call("lookup", nik).life_status is LifeStatus.deceased
    dead = duk.call("verify", nik, {"full_name": "X"})
    assert dead.found and dead.fields == {} and dead.life_status is LifeStatus.deceased
    duk.faults("duplicate")
    twice = duk.call("verify", nik, {"full_name": "X"})
    assert twice.found and twice.fields == {} and twice.agency_code == "12"
    assert twice.message == "Data Ditemukan, Data Ganda"
    assert duk.call("lookup", nik).status is FacetStatus.ok


def test_fault_switch_refuses_a_mode_it_does_not_offer(duk) -> None:
    import httpx

    assert httpx.post(f"{duk.url}/_sim/faults", json={"mode": "billion_laughs"}).status_code == 422


def test_fault_garbage_is_protocol_error(duk) -> None:
    duk.faults("garbage")
    with pytest.raises(AgencyProtocolError):
        duk.call("lookup", duk.ordinary().nik)


def test_stats_count_requests(duk) -> None:
    for person in duk.population.ordinary()[:3]:
        duk.call("lookup", person.nik)
    assert duk.stats()["requests"] == 3


def test_health_is_up_and_costs_no_quota(duk) -> None:
    person = duk.ordinary()
    body = {"USER_ID": DEFAULT_USER_ID, "PASSWORD": DEFAULT_PASSWORD, "IP_USER": "127.0.0.1", "NIK": person.nik,
            "NAMA_LGKP": person.name}
    before = duk.raw("CALL_VERIFY_BY_ELEMEN", body).json()["quotaLimiter"]
    health = duk.call("health")
    assert health.up and health.latency_ms is not None and health.latency_ms >= 0 and health.detail == "HTTP 405"
    after = duk.raw("CALL_VERIFY_BY_ELEMEN", body).json()["quotaLimiter"]
    assert after == before - 1


def test_submit_not_supported(duk) -> None:
    with pytest.raises(NotSupported):
        duk.call("submit", "anything", {}, "key-1")


def test_plugin_is_discovered_and_builds_a_client(duk) -> None:
    from connectors.registry import discover

    assert discover()["dukcapil"] is PLUGIN
    assert PLUGIN.facet == "identity" and PLUGIN.mapping == "dukcapil" and PLUGIN.protocol == "rest"
    assert isinstance(PLUGIN.create(duk.config()), DukcapilClient)


def test_missing_settings_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="GERBANG_AGENCY_DUKCAPIL_URL"):
        PLUGIN.create({"institution": "X", "user": "u", "password": "p", "ip": "127.0.0.1"})
    with pytest.raises(ValueError, match="timeout_s"):
        PLUGIN.create({"url": "http://x", "institution": "X", "user": "u", "password": "p", "ip": "1.2.3.4",
                       "timeout_s": "soon"})


def test_claims_dukcapil_cannot_take_are_a_rejection_before_any_call(duk) -> None:  # type: ignore[no-untyped-def]
    """A claim the client cannot put into Dukcapil's fields is the caller's error: AgencyRejected (not for the
    breaker, which a ValueError had counted as Dukcapil failing), and nothing is sent."""
    before = duk.stats()
    person = duk.ordinary()
    for claims in ({"kk_number": "١١١١١١١١١١١١١١١١"}, {"kk_number": "12"}, {"sex": "X"}):
        with pytest.raises(AgencyRejected) as caught:
            duk.call("verify", person.nik, claims)
        assert caught.value.code == "claims_invalid" and not caught.value.transient
    assert duk.stats() == before
