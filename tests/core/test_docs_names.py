"""Every setting, endpoint and header that README.md and docs/*.md name exists in the code.

Why: the docs had told counter developers to send `X-Counter-Id` / `X-Officer-Id` while the API reads `Counter-Id` /
`Officer-Id`. Checked against what the code defines, not against a list kept here: settings against the Settings
model (per-agency keys and the few variables read outside it against the source), paths against the app's routes
(and the simulators', for an agency's own API), headers against the product source that reads or sets them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

import pytest

from connectors.registry import discover
from connectors.simkit.population import Population
from core.api.app import create_app
from core.settings import AGENCY_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PRODUCT = ["core", "identity", "connectors", "mappings"]

SETTING = re.compile(r"GERBANG_[A-Z0-9_]*(?:<[A-Z]+>[A-Z0-9_]*)*")
PATH = re.compile(r"(?<![\w/.])/v1/[A-Za-z0-9_{}<>./…-]*")
HEADER = re.compile(r"`(X-[A-Za-z0-9-]+|[A-Z][a-z]+(?:-[A-Z][a-z]+)+|webhook-[a-z]+)`"
                    r"|-H ['\"]([A-Za-z][A-Za-z0-9-]*):")

EXAMPLE_AGENCIES = {"perpustakaan"}
"""The connector docs/writing-a-connector.md scaffolds as its example (not installed)."""
RETIRED_HEADERS = {"gerbang-signature", "gerbang-signature-ed25519", "gerbang-batch-id"}
"""docs/callbacks.md names them to say they are no longer sent."""


@lru_cache(maxsize=1)
def product_source() -> str:
    """Every product module's text, lower-case (headers are case-insensitive)."""
    return "\n".join(p.read_text(encoding="utf-8") for d in PRODUCT for p in (ROOT / d).rglob("*.py")).lower()


@lru_cache(maxsize=1)
def suite_source() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("*.py"))


def _walk(routes: Iterable[object]) -> Iterator[str]:
    for route in routes:
        path = getattr(route, "path", None)
        if isinstance(path, str) and path:
            yield path
        included = getattr(route, "original_router", None)  # FastAPI's lazily included router
        if included is not None:
            yield from _walk(included.routes)


@lru_cache(maxsize=1)
def route_patterns() -> tuple[tuple[str, ...], ...]:
    """Segments of every route of the API and of every simulator (an agency's own API, as docs/simulators.md
    describes it)."""
    app = create_app(Settings(data_dir=Path("/nonexistent-gerbang-docs-test")))
    paths = set(_walk(app.routes)) | set(app.openapi()["paths"])
    population = Population(seed=1, size=10)
    for plugin in discover().values():
        if plugin.simulator is not None:
            paths |= set(_walk(getattr(plugin.simulator(population), "routes", [])))
    return tuple(tuple(p.strip("/").split("/")) for p in paths)


def _placeholder(segment: str) -> bool:
    return segment.startswith(("{", "<")) and segment.endswith(("}", ">"))


def path_exists(path: str) -> bool:
    """A documented path (placeholders `{id}` / `<id>`, a trailing `…` for "anything below") names a route, or
    is the prefix of some."""
    path = path.split("?")[0].rstrip(".,:;)")
    below = path.endswith("…")
    wanted = [s for s in path.rstrip("…").strip("/").split("/") if s]
    for route in route_patterns():
        if len(route) < len(wanted):
            continue
        if all(_placeholder(w) or _placeholder(r) or w == r for w, r in zip(wanted, route)):
            if len(route) == len(wanted) or below or len(wanted) < len(route):
                return True
    return False


def agency_setting_exists(name: str) -> bool:
    """GERBANG_AGENCY_<NAME>_<KEY>: NAME an installed connector (or the placeholder), KEY one the code reads."""
    rest = name[len(AGENCY_PREFIX):]
    agencies = sorted({n.upper() for n in discover()} | {n.upper() for n in EXAMPLE_AGENCIES} | {"<NAME>"},
                      key=len, reverse=True)
    if not rest:
        return True  # the prefix itself
    agency = next((a for a in agencies if rest == a or rest.startswith(a + "_")), None)
    if agency is None:
        return False
    key = rest[len(agency) + 1:]
    return key in ("", "<KEY>") or f'"{key.lower()}"' in product_source()


def setting_exists(name: str) -> bool:
    if name.removeprefix("GERBANG_").lower() in Settings.model_fields:
        return True
    if name.startswith(AGENCY_PREFIX):
        return agency_setting_exists(name)
    # read outside the settings model: GERBANG_DEBUG by the CLI, GERBANG_TEST_* by the test suite
    return f'"{name.lower()}"' in product_source() or f'"{name}"' in suite_source()


def header_exists(name: str) -> bool:
    return name.lower() in RETIRED_HEADERS or f'"{name.lower()}' in product_source()


def unknown_names(text: str) -> list[str]:
    """The settings, paths and headers `text` names that the code does not have."""
    unknown = [f"setting {n}" for n in sorted(set(SETTING.findall(text))) if not setting_exists(n)]
    unknown += [f"path {p}" for p in sorted(set(PATH.findall(text))) if not path_exists(p)]
    headers = {a or b for a, b in HEADER.findall(text)}
    unknown += [f"header {h}" for h in sorted(headers) if not header_exists(h)]
    return unknown


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_a_doc_names_only_settings_paths_and_headers_that_exist(doc: Path) -> None:
    assert unknown_names(doc.read_text(encoding="utf-8")) == []


def test_the_check_finds_names_that_do_not_exist() -> None:
    """The check can fail: the names the docs had wrong, and a made-up one of each kind."""
    text = ("Send `X-Counter-Id` / `X-Officer-Id`; GERBANG_NO_SUCH_SETTING, GERBANG_AGENCY_DUKCAPIL_NO_SUCH_KEY, "
            "GERBANG_AGENCY_NOWHERE_URL; GET /v1/citizens/{nik}/nowhere, POST /v1/nowhere, "
            "curl -H 'X-Nope: 1'.\nFine: `Officer-Id`, GERBANG_AGENCY_DUKCAPIL_USER, /v1/citizens/<NIK>, "
            "/v1/audit/…, /v1/admin, `webhook-signature`, GERBANG_DATABASE_URL, GERBANG_DEBUG.")
    assert unknown_names(text) == [
        "setting GERBANG_AGENCY_DUKCAPIL_NO_SUCH_KEY", "setting GERBANG_AGENCY_NOWHERE_URL",
        "setting GERBANG_NO_SUCH_SETTING", "path /v1/citizens/{nik}/nowhere", "path /v1/nowhere",
        "header X-Counter-Id", "header X-Nope", "header X-Officer-Id"]
