"""docs/architecture.md names files a request passes: each must exist, so the map cannot drift from the house."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
PATH = re.compile(r"`((?:core|connectors|identity|mappings|tests)/[A-Za-z0-9_./<>-]+)`")
MODULE = re.compile(r"`((?:core|connectors|identity|mappings)(?:\.[a-z_]+)+)`")


def mentioned_paths(text: str) -> list[str]:
    """Paths the doc names in backticks; `<agency>` stands for every agency folder, so it is checked on one."""
    return [p.replace("<agency>", "dukcapil") for p in PATH.findall(text)]


def test_every_path_the_map_names_exists() -> None:
    missing = [p for p in mentioned_paths(DOC.read_text(encoding="utf-8")) if not (ROOT / p).exists()]
    assert missing == []


def test_every_module_the_map_names_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = []
    for dotted in MODULE.findall(text):
        parts = dotted.split(".")
        # `core.bus.service.replay`: the longest prefix that is a module or package must exist
        found = any((ROOT / Path(*parts[:n])).with_suffix(".py").exists() or (ROOT / Path(*parts[:n])).is_dir()
                    for n in range(len(parts), 1, -1))
        if not found:
            missing.append(dotted)
    assert missing == []


def test_the_check_sees_a_missing_path() -> None:
    assert mentioned_paths("`core/api/nowhere.py` and `connectors/<agency>/facet.py`") == [
        "core/api/nowhere.py", "connectors/dukcapil/facet.py"]
    assert not (ROOT / "core/api/nowhere.py").exists()


def test_readme_links_the_map() -> None:
    assert "docs/architecture.md" in (ROOT / "README.md").read_text(encoding="utf-8")
