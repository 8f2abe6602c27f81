"""The mapping engine: checks at load time, nested targets and sources, each-lists, defaults, error messages."""

from __future__ import annotations

import datetime as dt
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import field_validator

from identity.model import CanonicalModel, register_facet
from mappings import Mapping, MappingError, load_mapping, load_mapping_file
from mappings.engine import parse_mapping

# --- a test-only facet with nested models and lists ----------------------------------------------------------------


class Tax(CanonicalModel):
    due_date: dt.date | None = None
    amount: Decimal | None = None


class Vehicle(CanonicalModel):
    plate: str
    year: int | None = None
    tax: Tax | None = None


class Holder(CanonicalModel):
    full_name: str | None = None
    birth_date: dt.date | None = None
    sex: str | None = None


class VehiclesFacet(CanonicalModel):
    owner_code: str | None = None
    status: str | None = None
    note: str | None = None
    count: int = 0
    holder: Holder | None = None
    vehicles: list[Vehicle] | None = None
    tags: list[str] = []


class Info(CanonicalModel):
    code: str | None = None


class Checked(CanonicalModel):
    code: str | None = None

    @field_validator("code")
    @classmethod
    def _short(cls, value: str) -> str:
        if len(value) > 4:
            raise ValueError(f"code {value} is too long")  # quotes the value, as careless validators do
        return value


class RequiredNested(CanonicalModel):
    ref: str
    info: Info


register_facet("test_vehicles", VehiclesFacet)
register_facet("test_required_nested", RequiredNested)
register_facet("test_checked", Checked)


def mapping(body: str, facet: str = "test_vehicles", origin: str = "test.yaml") -> Mapping:
    return parse_mapping(f"agency: test\nfacet: {facet}\nfields:\n{textwrap.indent(textwrap.dedent(body), '  ')}",
                         origin=origin)


def load_error(body: str, facet: str = "test_vehicles") -> str:
    with pytest.raises(MappingError) as info:
        mapping(body, facet)
    message = str(info.value)
    assert "test.yaml" in message
    return message


RAW = {
    "data": {
        "kode": " K-01 ",
        "pemilik": {"nama": "budi   santoso ", "lahir": "15-05-1985", "jk": "LAKI-LAKI"},
        "kendaraan": [
            {"nopol": "b 1234 xyz", "tahun": "2019", "pkb": {"jatuh_tempo": "2024-08-17", "jumlah": "1250000.00"}},
            {"nopol": "d 77 ab", "tahun": 2021},
        ],
        "label": ["baru", " lunas ", ""],
        "program": [{"kode": "jht"}, {"kode": "jkk"}],
    },
    "content": [{"status": "A"}, {"status": "N"}],
}

FULL = """
owner_code: {from: data.kode, transform: strip}
status: {from: "content[0].status", transform: {code: {table: {"A": active, "N": inactive}}}}
holder.full_name: {from: data.pemilik.nama, transform: name}
holder.birth_date: {from: data.pemilik.lahir, transform: date}
holder.sex: {from: data.pemilik.jk, transform: sex}
vehicles:
  from: data.kendaraan
  each:
    plate: {from: nopol, transform: name}
    year: {from: tahun, transform: int}
    tax.due_date: {from: pkb.jatuh_tempo, transform: date}
    tax.amount: {from: pkb.jumlah, transform: decimal}
tags: {from: data.label, each: {transform: upper}}
"""


def test_apply_nested_target_nested_source_and_each_lists() -> None:
    result = mapping(FULL).apply(RAW)
    assert result == VehiclesFacet(
        owner_code="K-01",
        status="active",
        holder=Holder(full_name="BUDI SANTOSO", birth_date=dt.date(1985, 5, 15), sex="L"),
        vehicles=[
            Vehicle(plate="B 1234 XYZ", year=2019, tax=Tax(due_date=dt.date(2024, 8, 17), amount=Decimal("1250000.00"))),
            Vehicle(plate="D 77 AB", year=2021),  # no pkb in the source: the nested Tax is left out
        ],
        tags=["BARU", "LUNAS"],  # the blank element is null and skipped
    )


def test_mapping_attributes_and_sources() -> None:
    m = mapping(FULL)
    assert (m.agency, m.facet, m.model) == ("test", "test_vehicles", VehiclesFacet)
    assert m.sources == {
        "data.kode", "content[0].status", "data.pemilik.nama", "data.pemilik.lahir", "data.pemilik.jk",
        "data.kendaraan", "data.kendaraan[].nopol", "data.kendaraan[].tahun", "data.kendaraan[].pkb.jatuh_tempo",
        "data.kendaraan[].pkb.jumlah", "data.label",
    }


def test_list_indexing_forms() -> None:
    m = mapping("""
    status: content.1.status
    note: "content[-1].status"
    owner_code: "data.kendaraan[0].nopol"
    """)
    result = m.apply(RAW)
    assert (result.status, result.note, result.owner_code) == ("N", "N", "b 1234 xyz")
    assert m.apply({"content": []}).status is None  # index out of range = missing


def test_each_plain_values_from_objects() -> None:
    m = mapping("tags: {from: data.program, each: {from: kode, transform: upper}}")
    assert m.apply(RAW).tags == ["JHT", "JKK"]
    assert mapping("tags: {from: data.program, each: kode}").apply(RAW).tags == ["jht", "jkk"]


def test_each_missing_list_is_null_or_default() -> None:
    m = mapping("vehicles: {from: data.kendaraan, each: {plate: nopol}}")
    assert m.apply({}).vehicles is None
    assert m.apply({"data": {"kendaraan": []}}).vehicles == []
    m = mapping("vehicles: {from: data.kendaraan, each: {plate: nopol}, default: []}")
    assert m.apply({"data": None}).vehicles == []


def test_missing_sources_give_null_not_errors() -> None:
    result = mapping(FULL).apply({})
    assert result == VehiclesFacet()
    assert result.holder is None  # a nested model with nothing in it is left out


def test_defaults_apply_to_missing_empty_and_null_results() -> None:
    m = mapping("""
    owner_code: {from: kode, default: NONE}
    note: {from: gol, transform: blood_type, default: unknown}
    count: {from: jumlah, transform: int, default: 0}
    status: {const: fixed}
    """)
    assert m.apply({}).model_dump(include={"owner_code", "note", "count", "status"}) == {
        "owner_code": "NONE", "note": "unknown", "count": 0, "status": "fixed"}
    assert m.apply({"kode": "   ", "gol": "TIDAK TAHU"}).owner_code == "NONE"
    assert m.apply({"gol": "TIDAK TAHU"}).note == "unknown"
    assert m.apply({"kode": "X", "gol": "ab", "jumlah": "3"}).model_dump(include={"owner_code", "note", "count"}) \
        == {"owner_code": "X", "note": "AB", "count": 3}


def test_null_never_reaches_a_transform_and_model_defaults_apply() -> None:
    m = mapping("count: {from: jumlah, transform: int}")
    assert m.apply({"jumlah": None}).count == 0
    assert m.apply({"jumlah": ""}).count == 0


def test_several_sources() -> None:
    m = mapping("owner_code: {from: [a, b.c, d], transform: {join: '-'}}")
    assert m.apply({"a": "X", "b": {"c": 7}}).owner_code == "X-7"
    assert m.apply({}).owner_code is None


def test_required_nested_model_is_built_even_when_empty() -> None:
    m = mapping("ref: r\ninfo.code: c", facet="test_required_nested")
    assert m.apply({"r": "1"}) == RequiredNested(ref="1", info=Info())


def test_transform_chain_and_arguments() -> None:
    m = mapping("owner_code: {from: kode, transform: [strip, {pad: 5}, {null_if: ['00000']}]}")
    assert m.apply({"kode": " 42 "}).owner_code == "00042"
    assert m.apply({"kode": "0"}).owner_code is None


# --- load-time rejection ------------------------------------------------------------------------------------------


def test_unknown_canonical_field_rejected() -> None:
    assert "'plates'" in load_error("plates: nopol")


def test_unknown_nested_canonical_field_rejected() -> None:
    message = load_error("holder.name: nama")
    assert "'holder.name'" in message and "Holder" in message


def test_unknown_list_item_field_rejected() -> None:
    message = load_error("vehicles: {from: k, each: {plate: p, colour: w}}")
    assert "vehicles[].colour" in message


def test_unknown_nested_field_inside_list_item_rejected() -> None:
    assert "vehicles[].tax.due" in load_error("vehicles: {from: k, each: {plate: p, tax.due: d}}")


def test_unknown_transform_rejected() -> None:
    message = load_error("owner_code: {from: kode, transform: [strip, uppercase]}")
    assert "'owner_code'" in message and "'uppercase'" in message


def test_unknown_facet_rejected() -> None:
    with pytest.raises(MappingError, match=r"test.yaml: unknown facet 'no_such_facet'"):
        parse_mapping("agency: x\nfacet: no_such_facet\nfields: {a: b}", origin="test.yaml")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("owner_code: {form: kode}", "unknown spec key"),
        ("owner_code: {transform: strip}", "'from'"),
        ("owner_code: 42", "source spec"),
        ("owner_code: {from: kode, transform: {strip: null, upper: null}}", "use a list"),
        ("owner_code: {from: kode, transform: [[strip]]}", "transform"),
        ("owner_code: {from: kode, transform: {pad: x}}", "bad arguments for transform 'pad'"),
        ("owner_code: {from: kode, transform: {pad: {size: 3}}}", "bad arguments for transform 'pad'"),
        ("owner_code: {from: kode, transform: {code: {table: {01: a}}}}", "quoted"),
        ("owner_code: {from: kode, transform: {date: {formats: '%d'}}}", "formats"),
        ("owner_code: {from: 'a..b'}", "malformed source path"),
        ("owner_code: {from: 'a[x]'}", "malformed source path"),
        ("owner_code: {from: []}", "'from'"),
        ("owner_code: {const: a, from: b}", "const"),
        ("count: {from: n, default: many}", "'default' is not a valid value"),
        ("owner_code: {from: k, each: {plate: p}}", "not a list"),
        ("vehicles.plate: p", "use 'each'"),
        ("owner_code.x: p", "not a nested model"),
        ("vehicles: {from: k, transform: strip, each: {plate: p}}", "each"),
        ("vehicles: {from: k, each: [plate]}", "each"),
        ("holder: h\nholder.sex: s", "'holder' is mapped both whole and field by field"),
        ("holder.: h", "malformed canonical field"),
    ],
)
def test_malformed_specs_rejected(body: str, fragment: str) -> None:
    message = load_error(body)
    assert fragment in message


def test_malformed_documents_rejected() -> None:
    cases = {
        "agency: x\nfacet: test_vehicles\nfields: {a: [unclosed": "invalid YAML",
        "- just\n- a list": "must be an object",
        "agency: x\nfacet: test_vehicles": "'fields' is required",
        "facet: test_vehicles\nfields: {owner_code: k}": "'agency' is required",
        "agency: x\nfacet: test_vehicles\nfields: {owner_code: k}\nextra: 1": "unknown top-level key",
        "agency: x\nfacet: test_vehicles\nfields:\n  owner_code: a\n  owner_code: b": "duplicate key",
    }
    for text, fragment in cases.items():
        with pytest.raises(MappingError) as info:
            parse_mapping(text, origin="bad.yaml")
        assert "bad.yaml" in str(info.value) and fragment in str(info.value), text


# --- apply-time errors: name the fields, never the value ---------------------------------------------------------

SECRET = "3276015505850001"


def apply_error(m: Mapping, raw: dict) -> str:
    with pytest.raises(MappingError) as info:
        m.apply(raw)
    message = str(info.value)
    assert SECRET not in message and "SITI" not in message
    return message


def test_transform_failure_names_fields_not_value() -> None:
    m = mapping("owner_code: {from: peserta.nik, transform: {digits_exact: {length: 15}}}")
    message = apply_error(m, {"peserta": {"nik": SECRET}})
    assert "'owner_code'" in message and "'peserta.nik'" in message


def test_float_for_exact_number_rejected_without_value() -> None:
    m = mapping("owner_code: {from: nik, transform: digits_exact}")
    message = apply_error(m, {"nik": float(SECRET)})
    assert "float" in message and "'nik'" in message


def test_list_item_failure_names_the_element() -> None:
    m = mapping("vehicles: {from: data.kendaraan, each: {plate: nopol, year: {from: tahun, transform: int}}}")
    message = apply_error(m, {"data": {"kendaraan": [{"nopol": "B 1", "tahun": 2019}, {"nopol": "B 2", "tahun": "SITI"}]}})
    assert "vehicles[1].year" in message and "data.kendaraan[1].tahun" in message


def test_model_rejection_names_fields_not_value() -> None:
    m = mapping("vehicles: {from: data.kendaraan, each: {plate: nopol, year: tahun}}")
    message = apply_error(m, {"data": {"kendaraan": [{"nopol": "B 1", "tahun": SECRET + "SITI"}]}})
    assert "vehicles[0].year" in message and "data.kendaraan[0].tahun" in message


def test_model_validator_message_is_not_shown() -> None:
    m = mapping("code: kode", facet="test_checked")
    message = apply_error(m, {"kode": SECRET})
    assert "'code'" in message and "'kode'" in message and "validator" in message


def test_required_field_missing_names_it() -> None:
    m = mapping("vehicles: {from: data.kendaraan, each: {plate: nopol}}")
    message = apply_error(m, {"data": {"kendaraan": [{"tahun": 2019}]}})
    assert "vehicles[0].plate" in message and "required" in message


def test_foreign_transform_error_message_is_not_shown() -> None:
    from mappings.transforms import register_transform

    def leaky(value: object) -> object:
        raise ValueError(f"cannot read {value}")

    register_transform("test_leaky", leaky)
    m = mapping("owner_code: {from: nik, transform: test_leaky}")
    assert "test_leaky" in apply_error(m, {"nik": SECRET})


def test_wrong_shape_is_an_error_not_a_silent_null() -> None:
    m = mapping("holder.full_name: data.pemilik.nama")
    assert "'data.pemilik.nama'" in apply_error(m, {"data": {"pemilik": "SITI"}})
    m = mapping("vehicles: {from: data.kendaraan, each: {plate: nopol}}")
    assert "expected a list" in apply_error(m, {"data": {"kendaraan": {"nopol": "B 1"}}})
    assert "expected an object" in apply_error(m, {"data": {"kendaraan": ["B 1"]}})


def test_apply_rejects_a_non_object() -> None:
    with pytest.raises(MappingError, match="expected the agency fields as an object"):
        mapping(FULL).apply([RAW])  # type: ignore[arg-type]


# --- loading from files ------------------------------------------------------------------------------------------


def test_load_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "samsat_test.yaml"
    path.write_text("agency: test\nfacet: test_vehicles\nfields:\n  owner_code: kode\n", encoding="utf-8")
    assert load_mapping_file(path).apply({"kode": "A"}).owner_code == "A"
    path.write_text("agency: test\nfacet: test_vehicles\nfields:\n  owner_kode: kode\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"samsat_test\.yaml.*'owner_kode'"):
        load_mapping_file(path)
    with pytest.raises(MappingError, match="cannot read"):
        load_mapping_file(tmp_path / "missing.yaml")


def test_load_mapping_is_cached_and_checks_names() -> None:
    assert load_mapping("dukcapil") is load_mapping("dukcapil")
    with pytest.raises(MappingError, match="no mapping named"):
        load_mapping("no_such_agency")
    with pytest.raises(MappingError, match="not a mapping name"):
        load_mapping("../identity/model")


def test_a_deployment_may_name_another_mapping_for_a_plugin(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """GERBANG_AGENCY_<NAME>_MAPPING: a name in mappings/ or a file (another province's Samsat reply shape); it must
    fill the plug-in's facet."""
    from connectors.samsat import PLUGIN
    from mappings.engine import MappingError, plugin_mapping

    assert plugin_mapping(PLUGIN).origin == "mappings/samsat.yaml"
    assert plugin_mapping(PLUGIN, "samsat").origin == "mappings/samsat.yaml"
    other = tmp_path / "samsat_kaltim.yaml"
    other.write_text("agency: samsat\nfacet: vehicles\nfields:\n  full_name: {from: nama, transform: name}\n",
                     encoding="utf-8")
    mapping = plugin_mapping(PLUGIN, str(other))
    assert mapping.apply({"nama": " budi "}).full_name == "BUDI"
    with pytest.raises(MappingError, match="fills facet"):
        plugin_mapping(PLUGIN, "dukcapil")
    with pytest.raises(MappingError):
        plugin_mapping(PLUGIN, str(tmp_path / "missing.yaml"))
