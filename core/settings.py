"""All of Gerbang's settings, read once from `GERBANG_`-prefixed environment variables.

One place, so an operator can read the whole surface in `docs/settings.md` and nothing reads `os.environ` on its
own. Agency endpoints and credentials are open-ended (connectors are plug-ins): every `GERBANG_AGENCY_…` variable
is kept, and `Settings.agency("bpjs_kesehatan")` picks those starting `GERBANG_AGENCY_BPJS_KESEHATAN_`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

AGENCY_PREFIX = "GERBANG_AGENCY_"


class Settings(BaseSettings):
    """Process-wide configuration; see docs/settings.md for each variable."""

    model_config = SettingsConfigDict(env_prefix="GERBANG_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///gerbang.db",
        description="SQLAlchemy URL. SQLite file by default; postgresql+psycopg://… for distributed mode.",
    )
    amqp_url: str | None = Field(
        default=None, description="RabbitMQ URL. Unset: the outbox is dispatched in-process (embedded mode)."
    )
    data_dir: Path = Field(default=Path("gerbang-data"), description="Where keys and local state live.")
    signing_key_path: Path | None = Field(default=None, description="Ed25519 key for audit checkpoints.")
    nik_hash_key: str | None = Field(
        default=None, description="Secret (base64, ≥ 32 bytes) for keyed hashes of NIKs (cache keys, audit subjects)."
    )
    data_keys: str | None = Field(
        default=None, description="AES-256-GCM keys for data at rest: 'kid:base64key[,kid:base64key…]', first active."
    )
    cache_freshness_s: float = Field(
        default=300.0, ge=0, description="How long a cached facet is fresh; per agency: GERBANG_AGENCY_<NAME>_FRESHNESS_S."
    )
    agency_timeout_s: float = Field(default=5.0, gt=0, description="Per-agency call timeout.")
    lookup_budget_s: float = Field(default=8.0, gt=0, description="Overall budget for one citizen lookup.")
    breaker_threshold: int = Field(default=5, ge=1, description="Consecutive failures that open an agency's breaker.")
    breaker_reset_s: float = Field(default=30.0, gt=0, description="Seconds an open breaker waits before a probe.")
    demo_api_key: str | None = Field(default=None, description="Fixes the demo client's API key.")
    log_level: str = Field(default="INFO")
    agency_env: dict[str, str] = Field(
        default_factory=dict,
        description="Every GERBANG_AGENCY_<NAME>_<KEY> variable, e.g. GERBANG_AGENCY_DUKCAPIL_URL.",
    )

    @model_validator(mode="before")
    @classmethod
    def _collect_agencies(cls, data: Any) -> Any:
        if isinstance(data, dict) and "agency_env" not in data:
            data = dict(data)
            data["agency_env"] = {k: v for k, v in os.environ.items() if k.startswith(AGENCY_PREFIX)}
        return data

    @property
    def embedded(self) -> bool:
        """True when no broker is configured: the outbox is dispatched in-process."""
        return not self.amqp_url

    def agency(self, name: str) -> dict[str, str]:
        """Settings of one agency, keys lower-case (`url`, `user`, `cons_id`, …); empty when none are set."""
        prefix = f"{AGENCY_PREFIX}{name.upper()}_"
        return {k[len(prefix):].lower(): v for k, v in self.agency_env.items() if k.startswith(prefix)}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once. Tests build their own `Settings(...)` instead."""
    return Settings()
