"""The bus and the identity model name no agency: an agency's knowledge lives in `connectors/<agency>/` and
`mappings/<agency>.yaml`, so adding one touches its folder, its mapping and its tests, nothing in core/ or identity/.

The first test greps every file under core/ and identity/ (code, comments, docstrings, YAML, templates) for the
agencies' names and their vocabulary, whole words, any case; the second scaffolds a new agency and checks that its
facet and its purposes reach the bus through plug-in discovery alone.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from connectors.registry import discover
from connectors.scaffold import scaffold
from identity.model import FACET_MODELS, facet_model
from identity.purposes import load_purposes
from mappings.engine import plugin_mapping

ROOT = Path(__file__).resolve().parents[2]
AGENCY_WORDS = re.compile(
    r"\b(dukcapil|bpjs\w*|ketenagakerjaan|oss|samsat|bapenda|korlantas|polri|imigrasi|kemenkumham|vclaim"
    r"|nib|receivenib|inquerynib|receivelicense\w*)\b",
    re.IGNORECASE,
)


def mentions(folder: str) -> list[str]:
    """`file:line: word` for every agency word in the text files under `folder`."""
    found = []
    for path in sorted((ROOT / folder).rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # not text
        for number, line in enumerate(text.splitlines(), start=1):
            for match in AGENCY_WORDS.finditer(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)}")
    return found


@pytest.mark.parametrize("folder", ["core", "identity"])
def test_core_and_identity_name_no_agency(folder: str) -> None:
    found = mentions(folder)
    assert not found, "agency knowledge belongs in connectors/<agency>/ or mappings/:\n" + "\n".join(found)


def test_the_grep_sees_a_mention(tmp_path: Path) -> None:
    """The control: the pattern catches a name in prose and in code, and leaves identifiers that only contain one."""
    assert AGENCY_WORDS.findall("asks Dukcapil, then OSS's receiveNIB; agency='bpjs_kesehatan'") == [
        "Dukcapil",
        "OSS",
        "receiveNIB",
        "bpjs_kesehatan",
    ]
    assert not AGENCY_WORDS.findall("dukcapil_value in_dukcapil boss cross nibble")


def test_a_new_agency_needs_nothing_in_core_or_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scaffolded agency, put on the path and discovered, brings its facet model, its purposes and its mapping."""
    scaffold("perpustakaan", tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "gerbang-perpustakaan"))
    import importlib

    plugin = importlib.import_module("gerbang_perpustakaan").PLUGIN
    builtin = discover()
    monkeypatch.setattr("connectors.registry.discover", lambda: {**builtin, plugin.name: plugin})
    load_purposes.cache_clear()
    try:
        assert facet_model("perpustakaan").__name__ == "PerpustakaanFacet"
        assert load_purposes()["perpustakaan_services"].facets == ("identity", "perpustakaan")
        assert plugin_mapping(plugin).facet == "perpustakaan"
    finally:
        monkeypatch.undo()
        load_purposes.cache_clear()
        FACET_MODELS.pop("perpustakaan", None)
        for module in [m for m in sys.modules if m.startswith("gerbang_perpustakaan")]:
            del sys.modules[module]
