"""Shared test data for the audit core: the published vectors copied under vectors/ (see PROVENANCE.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

VECTORS = Path(__file__).parent / "vectors"


def _load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def rfc6962() -> dict:
    return _load("rfc6962_vectors.json")


@pytest.fixture(scope="session")
def signed_notes() -> dict:
    return _load("signed_note_vectors.json")


@pytest.fixture(scope="session")
def tessera() -> dict:
    """README.json of the Tessera log plus its directory."""
    info = _load("tessera-log/README.json")
    info["dir"] = VECTORS / "tessera-log" / "log"
    return info
