"""docker-compose.yml cannot be run here (no Docker engine), so its wiring is checked by reading it: the agency
settings must be what `gerbang simulate serve --port-base 9001 --public-url http://simulators` prints, the secrets
must load, and the services the README names must exist."""

from __future__ import annotations

from pathlib import Path

import yaml

from connectors.registry import discover
from core.security.secrets import load_secrets
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def expected_agency_env() -> dict[str, str]:
    env: dict[str, str] = {}
    simulators = [(name, p) for name, p in discover().items() if p.simulator is not None]
    for offset, (name, plugin) in enumerate(simulators):
        url = f"http://simulators:{9001 + offset}"
        config = plugin.sim_config(url) if plugin.sim_config else {"url": url}
        env.update({f"GERBANG_AGENCY_{name.upper()}_{k.upper()}": str(v) for k, v in config.items()})
    return env


def test_agency_settings_match_the_simulators() -> None:
    actual = {k: str(v) for k, v in COMPOSE["x-gerbang-env"].items() if k.startswith("GERBANG_AGENCY_")}
    expected = expected_agency_env()
    # password_type defaults to digest in the SOAP clients, so compose may leave it out
    expected = {k: v for k, v in expected.items() if not (k.endswith("_PASSWORD_TYPE") and v == "digest")}
    assert actual == expected


def test_services_and_commands() -> None:
    services = COMPOSE["services"]
    assert {"postgres", "rabbitmq", "migrate", "api", "simulators"} <= set(services)
    assert services["simulators"]["command"][:3] == ["gerbang", "simulate", "serve"]
    assert "9001" in " ".join(services["simulators"]["command"])
    assert services["migrate"]["command"] == ["gerbang", "db", "upgrade"]
    assert (ROOT / "Dockerfile").exists()


def test_compose_secrets_load_in_distributed_mode() -> None:
    env = COMPOSE["x-gerbang-env"]
    settings = Settings(database_url=env["GERBANG_DATABASE_URL"], amqp_url=env["GERBANG_AMQP_URL"],
                        nik_hash_key=env["GERBANG_NIK_HASH_KEY"], data_keys=env["GERBANG_DATA_KEYS"])
    assert not settings.embedded
    assert load_secrets(settings).data_keys.active == "k1"
