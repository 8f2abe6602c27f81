"""The fetch-once verified record through the API, against every simulator over real HTTP: purposes, parallel
facets with provenance, one agency down / slow / garbage, conflicts, the encrypted cache, the circuit breaker,
yes/no verification and the agency listing."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.core.conftest import POPULATION, sim_requests
from core.api.state import app_state

ALL_PURPOSES = ["identity_check", "passport_application", "sim_renewal", "vehicle_tax", "business_licensing",
                "health_insurance", "employment_insurance"]
ALIVE = [p for p in POPULATION.people if p.life_status == "alive" and p.in_dukcapil]
DECEASED = next(p for p in POPULATION.people if p.life_status == "deceased" and p.in_dukcapil)


@pytest.fixture
def counter(add_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    key = add_client("counter", ["citizen:read:*", "citizen:verify"], ALL_PURPOSES)
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def admin(add_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {add_client('operator', ['admin'], [])}"}


def lookup(api: TestClient, headers: dict[str, str], nik: str, purpose: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"/v1/citizens/{nik}", headers=headers, params={"purpose": purpose, **params})
    assert response.status_code == 200, response.text
    return response.json()


def statuses(record: dict[str, Any]) -> dict[str, str]:
    return {name: facet["provenance"]["status"] for name, facet in record["facets"].items()}


def test_purpose_decides_the_facets(make_api, counter) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    person = ALIVE[0]
    assert list(lookup(api, counter, person.nik, "identity_check")["facets"]) == ["identity"]
    record = lookup(api, counter, person.nik, "business_licensing")
    assert list(record["facets"]) == ["identity", "business", "employment_insurance", "health_insurance"]
    for facet in record["facets"].values():
        assert facet["provenance"]["status"] in ("ok", "not_found")
        assert facet["provenance"]["fetched_at"]
    narrowed = lookup(api, counter, person.nik, "business_licensing", facets="health_insurance")
    assert list(narrowed["facets"]) == ["identity", "health_insurance"]


def test_every_agency_answers_for_someone(make_api, counter) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    seen: dict[str, set[str]] = {}
    for person in ALIVE[:12]:
        for purpose in ALL_PURPOSES[1:]:
            for name, status in statuses(lookup(api, counter, person.nik, purpose)).items():
                seen.setdefault(name, set()).add(status)
    assert set(seen) == {"identity", "passports", "driving_licences", "vehicles", "business",
                         "health_insurance", "employment_insurance"}
    assert all("ok" in s for s in seen.values()), seen


def test_a_facet_with_data_is_canonical(make_api, counter) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    for person in ALIVE:
        record = lookup(api, counter, person.nik, "health_insurance")
        facet = record["facets"]["health_insurance"]
        if facet["provenance"]["status"] == "ok":
            assert facet["provenance"]["agency"] == "bpjs_kesehatan"
            assert len(facet["data"]["card_number"]) == 13
            return
    pytest.fail("nobody in the population has a BPJS Kesehatan card")


@pytest.mark.parametrize(("mode", "expected"), [("down", "unavailable"), ("garbage", "error"), ("error", "unavailable")])
def test_one_agency_failing_never_fails_the_lookup(make_api, counter, set_fault, mode: str,  # type: ignore[no-untyped-def]
                                                   expected: str) -> None:
    api = make_api()
    set_fault("oss", mode)
    record = lookup(api, counter, ALIVE[1].nik, "business_licensing")
    assert record["facets"]["business"]["provenance"]["status"] == expected
    assert record["facets"]["identity"]["provenance"]["status"] == "ok"
    assert statuses(record)["health_insurance"] in ("ok", "not_found")


def test_slow_agency_times_out_and_others_are_asked_in_parallel(make_api, counter, set_fault) -> None:  # type: ignore[no-untyped-def]
    api = make_api(agency_timeout_s=0.5)
    lookup(api, counter, ALIVE[12].nik, "business_licensing")  # first calls open connections: not what is timed
    for agency in ("oss", "bpjs_kesehatan", "bpjs_ketenagakerjaan"):
        set_fault(agency, "slow", 400)
    started = time.monotonic()
    record = lookup(api, counter, ALIVE[2].nik, "business_licensing")
    elapsed = time.monotonic() - started
    assert all(s in ("ok", "not_found") for s in statuses(record).values())
    assert elapsed < 1.1, f"three 0.4 s agencies took {elapsed:.2f} s: not parallel"
    set_fault("oss", "slow", 1500)
    record = lookup(api, counter, ALIVE[3].nik, "business_licensing")
    assert record["facets"]["business"]["provenance"]["status"] == "timeout"


def test_conflicts_name_the_agency_and_both_values(make_api, counter) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    for person in ALIVE[:150]:
        record = lookup(api, counter, person.nik, "business_licensing")
        if record["conflicts"]:
            conflict = record["conflicts"][0]
            assert conflict["field"] in ("full_name", "birth_date", "sex")
            assert conflict["agency"] in ("oss", "bpjs_kesehatan", "bpjs_ketenagakerjaan")
            assert conflict["agency_value"] != conflict["dukcapil_value"]
            facet = next(f for f in record["facets"].values() if f["provenance"]["agency"] == conflict["agency"])
            assert facet["data"][conflict["field"]] == conflict["agency_value"]
            return
    pytest.fail("no conflict found among 150 people")


def test_deceased_stops_at_dukcapil(make_api, counter, simulators) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    before = sim_requests(simulators, "imigrasi")
    record = lookup(api, counter, DECEASED.nik, "passport_application")
    assert record["life_status"] == "deceased" and list(record["facets"]) == ["identity"]
    assert sim_requests(simulators, "imigrasi") == before


def test_cache_hit_miss_and_refresh(make_api, counter, simulators, database_url) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    person = ALIVE[4]
    before = {a: sim_requests(simulators, a) for a in ("dukcapil", "samsat")}
    first = lookup(api, counter, person.nik, "vehicle_tax")
    assert all(not f["provenance"]["cached"] for f in first["facets"].values())
    second = lookup(api, counter, person.nik, "vehicle_tax")
    assert all(f["provenance"]["cached"] for f in second["facets"].values())
    assert second["facets"]["identity"]["data"] == first["facets"]["identity"]["data"]
    assert {a: sim_requests(simulators, a) for a in before} == {a: n + 1 for a, n in before.items()}
    third = lookup(api, counter, person.nik, "vehicle_tax", refresh="true")
    assert not third["facets"]["identity"]["provenance"]["cached"]
    assert {a: sim_requests(simulators, a) for a in before} == {a: n + 2 for a, n in before.items()}


def test_repeated_warm_lookups_are_remembered_encrypted_and_each_is_audited(  # type: ignore[no-untyped-def]
        make_api, counter, add_client, simulators, monkeypatch) -> None:
    import core.api.citizens as citizens

    api = make_api()
    person = ALIVE[9]
    assembled: list[str] = []
    real = citizens.assemble_record

    async def counting(*args: Any, **kwargs: Any) -> Any:
        assembled.append(args[0])
        return await real(*args, **kwargs)

    monkeypatch.setattr(citizens, "assemble_record", counting)
    memo = app_state(api.app).cache.records
    url, params = f"/v1/citizens/{person.nik}", {"purpose": "vehicle_tax"}
    cold = api.get(url, headers=counter, params=params)
    assert cold.status_code == 200 and not memo._records, "a record with fresh agency answers is not remembered"
    warm = [api.get(url, headers=counter, params=params) for _ in range(3)]
    assert len(assembled) == 2, "the first warm lookup assembles from the cache, the next two come from memory"
    assert warm[0].content == warm[1].content == warm[2].content
    assert all(f["provenance"]["cached"] for f in warm[2].json()["facets"].values())
    other = api.get(url, headers=counter, params={"purpose": "identity_check"})
    assert other.status_code == 200 and len(assembled) == 3, "another purpose is another record"
    from identity.secrecy import subject_hash
    subject = subject_hash(app_state(api.app).secrets.nik_hash_key, person.nik)
    assert set(memo._records) == {subject} == {app_state(api.app).cache.record_key(person.nik)}
    for key, slots in memo._records.items():
        assert person.nik not in key
        for slot in slots.values():
            sealed = b"".join(slot.sealed)
            assert person.nik.encode() not in sealed and person.name.split()[0].encode() not in sealed

    refreshed = lookup(api, counter, person.nik, "vehicle_tax", refresh="true")
    assert not memo._records, "new rows for this NIK drop its remembered records at once"
    after = lookup(api, counter, person.nik, "vehicle_tax")
    assert len(assembled) == 5
    assert after["facets"]["identity"]["provenance"]["fetched_at"] == \
        refreshed["facets"]["identity"]["provenance"]["fetched_at"] != \
        warm[0].json()["facets"]["identity"]["provenance"]["fetched_at"]

    auditor = {"Authorization": f"Bearer {add_client('auditor-memo', ['audit:read'])}"}
    page = api.get("/v1/audit/entries", headers=auditor, params={"subject_nik": person.nik, "limit": 50}).json()
    reads = [e["entry"]["detail"] for e in page["entries"] if e["entry"]["action"] == "citizen.read"]
    assert len(reads) == 7, "every read is in the log, remembered or not"
    assert [r["purpose"] for r in reads].count("identity_check") == 1
    assert reads[3]["facets"] == reads[2]["facets"] and all(f["cached"] for f in reads[3]["facets"].values())
    assert reads[5].get("refresh") is True and not any(f["cached"] for f in reads[5]["facets"].values())


def test_a_remembered_record_never_outlives_its_facets(make_api, counter, add_client) -> None:  # type: ignore[no-untyped-def]
    api = make_api(cache_freshness_s=0.6)
    person = ALIVE[10]
    lookup(api, counter, person.nik, "identity_check")
    warm = lookup(api, counter, person.nik, "identity_check")
    assert warm["facets"]["identity"]["provenance"]["cached"]
    assert app_state(api.app).cache.records._records
    time.sleep(0.8)  # past the facet's freshness, within the memo's own 2 s
    again = lookup(api, counter, person.nik, "identity_check")
    assert not again["facets"]["identity"]["provenance"]["cached"]


def test_cache_is_encrypted_and_keyed_without_the_nik(make_api, counter, sessions) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    person = ALIVE[5]
    lookup(api, counter, person.nik, "identity_check")
    with sessions() as session:
        rows = session.exec(text("SELECT key, payload FROM facet_cache")).all()  # type: ignore[call-overload]
    assert rows
    for key, payload in rows:
        blob = bytes(payload)
        assert person.nik not in key and person.nik.encode() not in blob
        assert person.name.split()[0].encode() not in blob


def test_cache_freshness_per_agency(make_api, counter, simulators) -> None:  # type: ignore[no-untyped-def]
    api = make_api(cache_freshness_s=0.0)
    person = ALIVE[6]
    before = sim_requests(simulators, "dukcapil")
    lookup(api, counter, person.nik, "identity_check")
    lookup(api, counter, person.nik, "identity_check")
    assert sim_requests(simulators, "dukcapil") == before + 2


def test_breaker_opens_skips_and_recovers(make_api, counter, admin, set_fault, simulators) -> None:  # type: ignore[no-untyped-def]
    api = make_api(breaker_threshold=2, breaker_reset_s=3.0)
    set_fault("samsat", "down")
    for person in ALIVE[7:9]:
        assert statuses(lookup(api, counter, person.nik, "vehicle_tax"))["vehicles"] == "unavailable"
    agencies = {a["name"]: a for a in api.get("/v1/agencies", headers=admin).json()["agencies"]}
    assert agencies["samsat"]["breaker"]["state"] == "open"
    seen = sim_requests(simulators, "samsat")
    record = lookup(api, counter, ALIVE[9].nik, "vehicle_tax")
    assert record["facets"]["vehicles"]["provenance"]["status"] == "unavailable"
    assert sim_requests(simulators, "samsat") == seen, "an open breaker must not call the agency"
    set_fault("samsat", "ok")
    time.sleep(3.1)  # past the reset window: the next call is the half-open probe
    assert statuses(lookup(api, counter, ALIVE[10].nik, "vehicle_tax"))["vehicles"] in ("ok", "not_found")
    agencies = {a["name"]: a for a in api.get("/v1/agencies", headers=admin).json()["agencies"]}
    assert agencies["samsat"]["breaker"]["state"] == "closed"


def test_agencies_listing_is_admin_only(make_api, counter, admin) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    assert api.get("/v1/agencies", headers=counter).json()["code"] == "scope_missing"
    body = api.get("/v1/agencies", headers=admin).json()
    agencies = {a["name"]: a for a in body["agencies"]}
    assert set(agencies) == {"dukcapil", "bpjs_kesehatan", "bpjs_ketenagakerjaan", "oss", "samsat", "korlantas",
                             "imigrasi"}
    assert all(a["health"]["up"] for a in agencies.values()), agencies
    assert agencies["dukcapil"]["url"].startswith("http://127.0.0.1:")
    assert agencies["samsat"]["breaker"]["state"] == "closed"


def test_verify_says_match_or_not_and_nothing_else(make_api, counter) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    person = ALIVE[11]
    claims = {"full_name": person.name.title(), "birth_date": person.birth_date.isoformat(), "sex": person.sex,
              "birth_place": "ATLANTIS"}
    response = api.post(f"/v1/citizens/{person.nik}/verify", headers=counter, params={"purpose": "identity_check"},
                        json=claims)
    assert response.status_code == 200, response.text
    fields = response.json()["fields"]
    assert fields["full_name"]["result"] == "match" and fields["full_name"]["score"] >= 80
    assert fields["birth_date"]["result"] == "match" and fields["sex"]["result"] == "match"
    assert fields["birth_place"]["result"] == "no_match"
    assert person.birth_place not in response.text and person.mother_name not in response.text


def test_verify_of_a_deceased_person_is_known_without_verdicts(make_api, counter) -> None:  # type: ignore[no-untyped-def]
    """Dukcapil answers 11 with no verdicts: the counter learns the person is deceased, not a failure."""
    api = make_api()
    response = api.post(f"/v1/citizens/{DECEASED.nik}/verify", headers=counter, params={"purpose": "identity_check"},
                        json={"full_name": DECEASED.name})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["fields"] == {} and body["life_status"] == "deceased" and body["agency_message"] == "meninggal dunia"
    alive = api.post(f"/v1/citizens/{ALIVE[11].nik}/verify", headers=counter, params={"purpose": "identity_check"},
                     json={"sex": ALIVE[11].sex}).json()
    assert alive["life_status"] == "alive" and alive["agency_message"] is None


def test_verify_refusals(make_api, counter, add_client) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    nik = ALIVE[11].nik
    url = f"/v1/citizens/{nik}/verify?purpose=identity_check"
    assert api.post(url, headers=counter, json={}).json()["code"] == "claims_empty"
    assert api.post(url, headers=counter, json={"shoe_size": 42}).json()["code"] == "request_invalid"
    reader = {"Authorization": f"Bearer {add_client('reader', ['citizen:read:*'], ['identity_check'])}"}
    assert api.post(url, headers=reader, json={"sex": "L"}).json()["code"] == "scope_missing"
    unknown = next(p for p in POPULATION.people if not p.in_dukcapil)
    response = api.post(f"/v1/citizens/{unknown.nik}/verify?purpose=identity_check", headers=counter, json={"sex": "L"})
    assert response.status_code == 404 and response.json()["code"] == "citizen_not_found"
