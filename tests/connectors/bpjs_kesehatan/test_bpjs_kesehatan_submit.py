"""participant_update (change of first-level clinic) over real HTTP: acceptance, idempotency, refusals."""

from __future__ import annotations

import uuid

import httpx
import jsonschema
import pytest

from connectors.base import AgencyAccessDenied, AgencyRejected, AgencyUnavailable, NotSupported
from connectors.bpjs_kesehatan import PLUGIN, crypto
from connectors.bpjs_kesehatan.simulator import DEFAULT_CONS_ID, DEFAULT_SECRET, DEFAULT_USER_KEY

SERVICE = "participant_update"


def other_clinic(bpjs, membership) -> str:
    """A known clinic that is not the participant's current one."""
    return next(code for code in bpjs.registry.clinics if code != membership.clinic.code)


def payload(person, membership, clinic: str, **extra) -> dict:
    return {"nik": person.nik, "card_number": membership.card_number, "new_clinic_code": clinic,
            "reason": "Pindah domisili", **extra}


def test_service_schema_is_published_and_valid() -> None:
    schema = PLUGIN.services[SERVICE]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["required"]) == {"nik", "new_clinic_code", "reason"}


def test_change_of_clinic_is_accepted_with_a_reference(bpjs) -> None:
    person, membership = bpjs.pick(card=True, active=True)
    clinic = other_clinic(bpjs, membership)
    result = bpjs.call("submit", SERVICE, payload(person, membership, clinic), str(uuid.uuid4()))
    assert result.agency == "bpjs_kesehatan" and result.reference.startswith("FKTP")
    assert result.detail["faskesBaru"]["kdProvider"] == clinic
    assert result.detail["faskesLama"]["kdProvider"] == membership.clinic.code
    assert result.detail["noKartu"] == membership.card_number and result.detail["tglBerlaku"].endswith("-01")


def test_card_number_is_optional(bpjs) -> None:
    person, membership = bpjs.pick(card=True, active=True)
    body = payload(person, membership, other_clinic(bpjs, membership))
    del body["card_number"]
    assert bpjs.call("submit", SERVICE, body, str(uuid.uuid4())).reference


def test_same_key_gives_the_same_reference_and_is_counted(bpjs) -> None:
    person, membership = bpjs.pick(card=True, active=True)
    body, key = payload(person, membership, other_clinic(bpjs, membership)), f"idem-{uuid.uuid4()}"
    first = bpjs.call("submit", SERVICE, body, key)
    again = bpjs.call("submit", SERVICE, body, key)
    other = bpjs.call("submit", SERVICE, body, f"idem-{uuid.uuid4()}")
    assert again.reference == first.reference and other.reference != first.reference
    stats = bpjs.stats()
    assert stats["submissions"][key] == 2 and stats["submissions_total"] == 3


def test_same_key_with_another_request_is_refused(bpjs) -> None:
    person, membership = bpjs.pick(card=True, active=True)
    key = str(uuid.uuid4())
    bpjs.call("submit", SERVICE, payload(person, membership, other_clinic(bpjs, membership)), key)
    with pytest.raises(AgencyRejected) as caught:
        bpjs.call("submit", SERVICE, payload(person, membership, other_clinic(bpjs, membership),
                                             reason="Another reason"), key)
    assert caught.value.code == "409"


def test_unknown_clinic_is_the_agencys_refusal(bpjs) -> None:
    person, membership = bpjs.pick(card=True, active=True)
    assert "9999Z999" not in bpjs.registry.clinics
    with pytest.raises(AgencyRejected, match="faskes") as caught:
        bpjs.call("submit", SERVICE, payload(person, membership, "9999Z999"), str(uuid.uuid4()))
    assert caught.value.code == "201" and not caught.value.transient


@pytest.mark.parametrize("situation", ["same_clinic", "wrong_card", "inactive", "no_card"])
def test_business_refusals(bpjs, situation) -> None:
    person, membership = bpjs.pick(card=True, active=situation != "inactive")
    body = payload(person, membership, other_clinic(bpjs, membership))
    if situation == "same_clinic":
        body["new_clinic_code"] = membership.clinic.code
    elif situation == "wrong_card":
        body["card_number"] = "0009999999999"
    elif situation == "no_card":
        nobody, _ = bpjs.pick(card=False)
        body["nik"] = nobody.nik
        del body["card_number"]
    with pytest.raises(AgencyRejected) as caught:
        bpjs.call("submit", SERVICE, body, str(uuid.uuid4()))
    assert caught.value.code == "201"


@pytest.mark.parametrize("change", [
    {"nik": "123"}, {"new_clinic_code": "lower123"}, {"reason": ""}, {"extra": "field"}, {"card_number": 1234},
])
def test_invalid_payload_is_refused_before_any_call(bpjs, change) -> None:
    person, membership = bpjs.pick(card=True, active=True)
    with pytest.raises(AgencyRejected, match="invalid payload") as caught:
        bpjs.call("submit", SERVICE, {**payload(person, membership, "3603P028"), **change}, "k1")
    assert person.nik not in str(caught.value)
    assert bpjs.stats()["requests"] == 0


def test_unknown_service_is_not_supported(bpjs) -> None:
    with pytest.raises(NotSupported):
        bpjs.call("submit", "card_replacement", {}, "k1")


def test_bad_idempotency_key_is_refused_before_any_call(bpjs) -> None:
    person, membership = bpjs.pick(card=True, active=True)
    with pytest.raises(AgencyRejected, match="idempotency"):
        bpjs.call("submit", SERVICE, payload(person, membership, other_clinic(bpjs, membership)), "")
    assert bpjs.stats()["requests"] == 0


def test_submissions_are_signed_like_every_call(bpjs) -> None:
    person, membership = bpjs.pick(card=True, active=True)
    with pytest.raises(AgencyAccessDenied):
        bpjs.call("submit", SERVICE, payload(person, membership, other_clinic(bpjs, membership)),
                  str(uuid.uuid4()), secret="wrong")
    assert bpjs.stats()["submissions_total"] == 0


def test_submission_during_an_outage_is_transient(bpjs) -> None:
    person, membership = bpjs.pick(card=True, active=True)
    bpjs.faults("error")
    with pytest.raises(AgencyUnavailable) as caught:
        bpjs.call("submit", SERVICE, payload(person, membership, other_clinic(bpjs, membership)), "k-outage")
    assert caught.value.transient


def test_simulator_requires_the_idempotency_key_and_a_wrapped_body(bpjs) -> None:
    headers = crypto.signed_headers(DEFAULT_CONS_ID, DEFAULT_SECRET, DEFAULT_USER_KEY, crypto.timestamp_now())
    no_key = httpx.post(f"{bpjs.url}/Peserta/updateFaskes", headers=headers, json={}, timeout=5).json()
    assert no_key["metaData"]["code"] == "400"
    unwrapped = httpx.post(f"{bpjs.url}/Peserta/updateFaskes", json={"nik": "1"}, timeout=5,
                           headers={**headers, "X-Idempotency-Key": "k-raw"}).json()
    assert unwrapped["metaData"]["code"] == "400"
