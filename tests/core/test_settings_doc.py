"""docs/settings.md names every setting, so operators can trust it."""

from __future__ import annotations

from pathlib import Path

from core.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if name != "agency_env"
               and f"`GERBANG_{name.upper()}`" not in text]
    assert not missing, f"undocumented settings: {missing}"
