"""`gerbang connectors new`: scaffold a connector as a package of its own, ready to install and to pass the kit.

The folder `<dir>/gerbang-<name>/` holds a `pyproject.toml` with the `gerbang.connectors` entry point, the package
`gerbang_<name>/` (plug-in, client, simulator, facet model, mapping and, for SOAP, the agency's WSDL) and
`tests/test_contract.py`, which runs Gerbang's contract kit (connectors/contract) and passes as generated.
Templates are plain files under `templates/`, filled with `string.Template`.
"""

from __future__ import annotations

import keyword
import re
import shutil
from collections.abc import Set as AbstractSet
from importlib import resources
from pathlib import Path
from string import Template

from connectors.scaffold.soapgen import demo_person, soap_parts
from connectors.scaffold.wsdl import WsdlError, read_wsdl

NAME = re.compile(r"[a-z][a-z0-9_]{1,30}[a-z0-9]")
RESERVED = {"identity", "connectors", "core", "mappings", "gerbang"}

REST_FACET_FIELDS = """    full_name: str | None = None
    birth_date: dt.date | None = None
    member_number: str | None = None
    status: str | None = None"""
REST_MAPPING_FIELDS = """  full_name: {from: nama, transform: name}
  birth_date: {from: tanggal_lahir, transform: {date: {formats: ["%d-%m-%Y"]}}}
  member_number: {from: nomor_anggota, transform: strip}
  status: {from: status, transform: upper}"""


class ScaffoldError(ValueError):
    """Input the scaffold refuses (bad name, existing folder, unusable WSDL); the message says why."""


def check_name(name: str, taken: AbstractSet[str] = frozenset()) -> None:
    if not NAME.fullmatch(name or "") or "__" in name:
        raise ScaffoldError(
            f"not a connector name: {name!r} (3-32 characters: lower-case letters, digits and "
            "underscores, starting with a letter, e.g. perpustakaan or kemenag_nikah)"
        )
    if keyword.iskeyword(name) or name in RESERVED:
        raise ScaffoldError(f"{name!r} is reserved; choose another name")
    if name in taken:
        raise ScaffoldError(f"a connector named {name!r} is already installed")


def _template(path: str) -> Template:
    return Template(resources.files("connectors.scaffold").joinpath("templates", path).read_text(encoding="utf-8"))


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def scaffold(
    name: str,
    directory: Path,
    *,
    wsdl: Path | None = None,
    title: str | None = None,
    taken: AbstractSet[str] = frozenset(),
) -> Path:
    """Write the connector project for `name` under `directory`; returns its folder. `wsdl` given → SOAP."""
    check_name(name, taken)
    if title is not None and (
        not title.strip() or len(title) > 100 or not title.isprintable() or any(ch in title for ch in "\"\\'")
    ):
        # it goes into Python strings and TOML as written: a quote or backslash would break the project
        raise ScaffoldError("a title is printable text of at most 100 characters, without quotes or backslashes")
    target = directory / f"gerbang-{name}"
    if target.exists():
        raise ScaffoldError(f"{target} already exists; choose another --dir or remove it")
    if not directory.is_dir():
        raise ScaffoldError(f"{directory} is not a directory")
    try:
        service = read_wsdl(wsdl) if wsdl is not None else None
        parts = soap_parts(service) if service is not None else None
    except WsdlError as exc:
        raise ScaffoldError(str(exc)) from None
    pkg = f"gerbang_{name}"
    values = {
        "name": name,
        "NAME": name.upper(),
        "pkg": pkg,
        "dist": f"gerbang-{name}",
        "Camel": camel(name),
        "title": title or name.replace("_", " ").title(),
        "protocol": "soap" if service else "rest",
        "how": f"--soap {wsdl.name}" if wsdl else "--rest",
        "example_nik": demo_person().nik,
    }
    files: dict[str, str] = {
        "pyproject.toml": _template("common/pyproject.toml.tmpl").substitute(values),
        "README.md": _template("common/README.md.tmpl").substitute(values),
        "tests/test_contract.py": _template("common/test_contract.py.tmpl").substitute(
            values,
            extra_tests=_template("soap/test_wsdl.py.tmpl").substitute(values, lookup_op=service.lookup.name)
            if service
            else "",
        ),
        f"{pkg}/__init__.py": _template("common/__init__.py.tmpl").substitute(values),
    }
    if service is None or parts is None:
        files[f"{pkg}/client.py"] = _template("rest/client.py.tmpl").substitute(values)
        files[f"{pkg}/simulator.py"] = _template("rest/simulator.py.tmpl").substitute(values)
        fields, mapping, imports, source = (
            REST_FACET_FIELDS,
            REST_MAPPING_FIELDS,
            "import datetime as dt\n",
            "the `data` object of POST /api/v1/lookup",
        )
    else:
        soap = {
            **values,
            "namespace": service.namespace,
            "binding": service.binding,
            "path": service.path,
            "lookup_op": service.lookup.name,
            "health_doc": (
                f"calls `{service.health.name}`"
                if service.health
                else "asks the lookup about an unknown NIK (the WSDL has no operation without input)"
            ),
            "handlers": parts.handlers,
            "operations": parts.operations,
            "schemas": parts.schemas,
            "submissions": parts.submissions,
            "lookup_contract": parts.lookup_contract,
            "sample_submission": parts.sample_submission,
        }
        files[f"{pkg}/client.py"] = _template("soap/client.py.tmpl").substitute(soap)
        files[f"{pkg}/simulator.py"] = _template("soap/simulator.py.tmpl").substitute(soap)
        fields, mapping, imports = parts.facet_fields, parts.mapping_fields, parts.facet_imports
        source = f"the {service.lookup.response} reply, as plain dicts"
    files[f"{pkg}/facet.py"] = _template("common/facet.py.tmpl").substitute(values, fields=fields, imports=imports)
    files[f"{pkg}/mapping.yaml"] = _template("common/mapping.yaml.tmpl").substitute(
        values, fields=mapping, source=source
    )
    try:
        for relative, text in files.items():
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if wsdl is not None:
            shutil.copyfile(wsdl, target / pkg / "service.wsdl")
    except OSError as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise ScaffoldError(f"cannot write {target}: {exc.strerror}") from None
    return target


__all__ = ["ScaffoldError", "scaffold", "check_name"]
