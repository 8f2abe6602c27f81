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


def test_readme_names_only_real_settings() -> None:
    """The README's "Run it for real" table must not drift from the settings the code reads."""
    import re

    readme = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(GERBANG_[A-Z_]+)`", readme))
    known = {f"GERBANG_{name.upper()}" for name in Settings.model_fields}
    test_only = {"GERBANG_TEST_DATABASE_URL", "GERBANG_TEST_AMQP_URL", "GERBANG_SCHEMATHESIS_EXAMPLES"}
    unknown = sorted(n for n in named - known - test_only if not n.startswith("GERBANG_AGENCY_"))
    assert not unknown, f"README names settings that do not exist: {unknown}"
    assert {"GERBANG_DATABASE_URL", "GERBANG_AMQP_URL", "GERBANG_SIGNING_KEY"} <= named
