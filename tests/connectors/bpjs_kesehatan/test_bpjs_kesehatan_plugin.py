"""The plug-in, its settings, the simulator's data and the mapping, without HTTP."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from connectors.base import Connector
from connectors.bpjs_kesehatan import PLUGIN
from connectors.bpjs_kesehatan.client import BpjsKesehatanClient
from connectors.bpjs_kesehatan.participants import (
    CLASS_LABELS, Registry, age_text, birth_date_variant, name_variant,
)
from connectors.registry import discover
from connectors.simkit.population import Population
from connectors.bpjs_kesehatan.facet import HealthInsurance
from identity.model import facet_model
from mappings.engine import load_mapping


def test_plugin_is_discovered_through_its_entry_point() -> None:
    plugin = discover()["bpjs_kesehatan"]
    assert plugin is PLUGIN and plugin.facet == "health_insurance" and plugin.mapping == "bpjs_kesehatan"
    assert set(plugin.services) == {"participant_update"} and plugin.simulator and plugin.sim_config


def test_create_builds_a_client_from_settings() -> None:
    client = PLUGIN.create({"url": "http://127.0.0.1:9", "cons_id": "1", "secret": "s", "user_key": "u",
                            "timeout_s": "2.5"})
    assert isinstance(client, BpjsKesehatanClient) and client.name == "bpjs_kesehatan"
    assert isinstance(client, Connector)


@pytest.mark.parametrize("config,message", [
    ({"url": "http://x", "cons_id": "1", "secret": "s"}, "GERBANG_AGENCY_BPJS_KESEHATAN_USER_KEY"),
    ({"cons_id": "1", "secret": "s", "user_key": "u"}, "url"),
    ({"url": "ftp://x", "cons_id": "1", "secret": "s", "user_key": "u"}, "http"),
    ({"url": "http://x", "cons_id": "1", "secret": "s", "user_key": "u", "timeout_s": "soon"}, "timeout_s"),
    ({"url": "http://x", "cons_id": "1", "secret": "s", "user_key": "u", "timeout_s": "-1"}, "timeout_s"),
])
def test_bad_settings_are_a_clear_error(config: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PLUGIN.create(config)


def test_facet_is_registered_with_the_holder_fields() -> None:
    assert facet_model("health_insurance") is HealthInsurance
    assert {"full_name", "birth_date", "sex", "card_number", "active", "clinic"} <= set(HealthInsurance.model_fields)


def test_mapping_loads_and_maps_a_verbatim_reply() -> None:
    mapping = load_mapping("bpjs_kesehatan")
    assert mapping.facet == "health_insurance" and mapping.agency == "bpjs_kesehatan"
    raw = {
        "noKartu": "0001234567890", "nik": "3273014512900003", "nama": "siti  aminah ", "sex": "P",
        "tglLahir": "1990-12-05", "tglTMT": "2016-01-01", "tglTAT": "2024-12-31", "tglCetakKartu": "2016-01-20",
        "hakKelas": {"kode": "3", "keterangan": "KELAS III"},
        "jenisPeserta": {"kode": "21", "keterangan": "PBI (APBN)"},
        "statusPeserta": {"kode": "0", "keterangan": "AKTIF"},
        "provUmum": {"kdProvider": "0114U048", "nmProvider": "PUSKESMAS SUKAJADI"},
        "mr": {"noMR": None, "noTelepon": "081234567890"},
        "cob": {"noAsuransi": None, "nmAsuransi": None, "tglTMT": None, "tglTAT": None},
        "informasi": {"dinsos": None, "prolanisPRB": "PROLANIS DM", "noSKTM": None, "eSEP": None},
        "umur": {"umurSekarang": "34 tahun ,0 bulan ,9 hari", "umurSaatPelayanan": "34 tahun ,0 bulan ,9 hari"},
    }
    model = mapping.apply(raw)
    assert model == HealthInsurance(
        card_number="0001234567890", nik="3273014512900003", full_name="SITI AMINAH", birth_date=dt.date(1990, 12, 5),
        sex="P", active=True, status="AKTIF", status_code="0", care_class=3, participant_type="PBI (APBN)",
        participant_type_code="21", clinic={"code": "0114U048", "name": "PUSKESMAS SUKAJADI"},
        coverage_start=dt.date(2016, 1, 1), coverage_end=dt.date(2024, 12, 31), card_printed_on=dt.date(2016, 1, 20),
        phone="081234567890", chronic_programme="PROLANIS DM")
    lapsed = mapping.apply({**raw, "statusPeserta": {"kode": "3", "keterangan": "TIDAK AKTIF"},
                            "tglTAT": "2021-06-30"})
    assert lapsed.active is False and lapsed.coverage_end == dt.date(2021, 6, 30)


def test_memberships_are_deterministic_and_shaped_like_the_brief() -> None:
    population = Population(seed=7, size=400)
    first, second = Registry(population), Registry(Population(seed=7, size=400))
    memberships = [first.membership(p) for p in population.people]
    assert memberships == [second.membership(p) for p in population.people]
    holders = [(p, m) for p, m in zip(population.people, memberships) if m is not None]
    assert 0.78 <= len(holders) / len(population.people) <= 0.92
    conflicts = [m for p, m in holders if (m.name, m.birth_date) != (p.name, p.birth_date)]
    assert 0.01 <= len(conflicts) / len(holders) <= 0.10
    assert any(not m.active for _, m in holders) and sum(m.active for _, m in holders) > 0.7 * len(holders)
    assert all(m.status[1] == "MENINGGAL" for p, m in holders if p.life_status == "deceased")
    assert len({m.card_number for _, m in holders}) == len(holders)
    for person, m in holders:
        assert len(m.card_number) == 13 and m.card_number.isdigit() and m.nik == person.nik
        assert m.class_code in CLASS_LABELS and m.clinic.code in first.clinics and m.tmt <= m.tat


def test_name_and_birth_date_variants_always_differ() -> None:
    rng = random.Random(1)
    for name in ["BUDI SANTOSO", "MUHAMMAD YUSUF", "SAPTO", "AI", "I WAYAN SUDIARTA", "NG"]:
        assert name_variant(name, rng) != name
    for day in [dt.date(1990, 1, 1), dt.date(2000, 2, 29), dt.date(1985, 12, 31), dt.date(1970, 5, 5)]:
        assert birth_date_variant(day, rng) != day


def test_age_text_is_vclaims_format() -> None:
    assert age_text(dt.date(1990, 12, 5), dt.date(2024, 12, 14)) == "34 tahun ,0 bulan ,9 hari"
    assert age_text(dt.date(1990, 12, 20), dt.date(2024, 3, 5)) == "33 tahun ,2 bulan ,14 hari"
