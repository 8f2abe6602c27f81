"""Settings come from GERBANG_ variables; agency settings are picked by agency name."""

from __future__ import annotations

import pytest

from core.settings import Settings


def test_defaults_are_embedded_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GERBANG_DATABASE_URL", "GERBANG_AMQP_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.embedded


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GERBANG_DATABASE_URL", "postgresql://db/gerbang")
    monkeypatch.setenv("GERBANG_AMQP_URL", "amqp://mq/")
    settings = Settings()
    assert settings.database_url == "postgresql://db/gerbang" and not settings.embedded


def test_agency_settings_by_name_even_with_underscores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GERBANG_AGENCY_BPJS_KESEHATAN_URL", "http://bpjs")
    monkeypatch.setenv("GERBANG_AGENCY_BPJS_KESEHATAN_CONS_ID", "1234")
    monkeypatch.setenv("GERBANG_AGENCY_DUKCAPIL_URL", "http://dukcapil")
    settings = Settings()
    assert settings.agency("bpjs_kesehatan") == {"url": "http://bpjs", "cons_id": "1234"}
    assert settings.agency("dukcapil") == {"url": "http://dukcapil"}
    assert settings.agency("oss") == {}


def test_bad_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GERBANG_AGENCY_TIMEOUT_S", "-1")
    with pytest.raises(ValueError, match="agency_timeout_s"):
        Settings()


def test_callback_hosts_are_lower_case_from_the_environment_or_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """The allow-list is compared in lower case (core/callbacks/config.py check_url): the settings hold it so."""
    monkeypatch.setenv("GERBANG_CALLBACK_ALLOWED_HOSTS", " Receiver.Example , *.Go.ID:8443,")
    assert Settings().callback_allowed_hosts == ["receiver.example", "*.go.id:8443"]
    monkeypatch.delenv("GERBANG_CALLBACK_ALLOWED_HOSTS")
    assert Settings(callback_allowed_hosts=["Receiver.Example"]).callback_allowed_hosts == ["receiver.example"]
