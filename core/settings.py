"""All of Gerbang's settings, read once from `GERBANG_`-prefixed environment variables.

One place, so an operator can read the whole surface in `docs/settings.md` and nothing reads `os.environ` on its
own. Agency endpoints and credentials are open-ended (connectors are plug-ins): every `GERBANG_AGENCY_…` variable
is kept, and `Settings.agency("pajak_daerah")` picks those starting `GERBANG_AGENCY_PAJAK_DAERAH_`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

AGENCY_PREFIX = "GERBANG_AGENCY_"


class Settings(BaseSettings):
    """Process-wide configuration; see docs/settings.md for each variable."""

    model_config = SettingsConfigDict(env_prefix="GERBANG_", extra="ignore")

    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; postgresql+psycopg://… for distributed mode. Unset: the SQLite file "
        "gerbang.db under data_dir, shared by `gerbang demo` and every other command run there.",
    )
    amqp_url: str | None = Field(
        default=None, description="RabbitMQ URL. Unset: the outbox is dispatched in-process (embedded mode)."
    )
    data_dir: Path = Field(default=Path("gerbang-data"), description="Where keys and local state live.")
    signing_key_path: Path | None = Field(default=None, description="Ed25519 key for audit checkpoints.")
    signing_key: str | None = Field(
        default=None, description="The audit signer key itself (PRIVATE+KEY+…), instead of a file; for containers."
    )
    audit_origin: str = Field(
        default="gerbang.local/audit",
        min_length=1,
        description="Name of a generated audit key (keygen, embedded first run); a log's origin is its key's name.",
    )
    audit_checkpoint_entries: int = Field(default=1000, ge=1, description="Sign a checkpoint every N audit entries…")
    audit_checkpoint_interval_s: float = Field(default=10.0, gt=0, description="…or every T seconds, if new entries.")
    audit_sequencer_interval_s: float = Field(
        default=0.2, gt=0, description="How often each process runs the audit sequencer."
    )
    nik_hash_key: str | None = Field(
        default=None, description="Secret (base64, ≥ 32 bytes) for keyed hashes of NIKs (cache keys, audit subjects)."
    )
    data_keys: str | None = Field(
        default=None, description="AES-256-GCM keys for data at rest: 'kid:base64key[,kid:base64key…]', first active."
    )
    cache_freshness_s: float = Field(
        default=300.0,
        ge=0,
        description="How long a cached facet is fresh; per agency: GERBANG_AGENCY_<NAME>_FRESHNESS_S.",
    )
    agency_timeout_s: float = Field(default=5.0, gt=0, description="Per-agency call timeout.")
    lookup_budget_s: float = Field(default=8.0, gt=0, description="Overall budget for one citizen lookup.")
    breaker_threshold: int = Field(default=5, ge=1, description="Consecutive failures that open an agency's breaker.")
    breaker_reset_s: float = Field(default=30.0, gt=0, description="Seconds an open breaker waits before a probe.")
    submit_retry_attempts: int = Field(
        default=3, ge=1, le=10, description="Calls per attempt for transient failures (short tenacity retry)."
    )
    submit_retry_wait_s: float = Field(
        default=0.5, ge=0, description="First wait between those calls (doubling, at most 8x)."
    )
    submit_schedule_s: Annotated[list[float], NoDecode] = Field(
        default=[30, 60, 120, 300, 600, 1800, 3600],
        description="Growing waits before rescheduled attempts, comma-separated seconds; the last one repeats.",
    )
    submit_deadline_s: float = Field(
        default=86400.0, gt=0, description="After this long without success an application is failed and dead-lettered."
    )
    bus_prefetch: int = Field(
        default=50,
        ge=1,
        le=10000,
        description="Unacknowledged messages a worker holds per agency queue; in embedded mode, concurrent attempts.",
    )
    bus_delivery_limit: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Deliveries after which a message that keeps failing is "
        "dead-lettered (quorum queue x-delivery-limit).",
    )
    bus_poll_s: float = Field(default=0.2, gt=0, description="How often the outbox and due retries are polled.")
    bus_batch: int = Field(default=500, ge=1, le=10000, description="Outbox rows published per relay batch.")
    bus_prefix: str = Field(
        default="gerbang", pattern=r"^[a-z][a-z0-9_.-]{0,40}$", description="Prefix of the exchange and queue names."
    )
    amqp_heartbeat_s: int = Field(default=30, ge=0, description="AMQP heartbeat (0 disables).")
    amqp_blocked_timeout_s: float = Field(
        default=60.0, gt=0, description="Give up on a connection the broker keeps blocked this long."
    )
    amqp_reconnect_max_s: float = Field(default=30.0, gt=0, description="Longest wait between reconnections.")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Largest request body (413 beyond).")
    max_json_depth: int = Field(default=32, ge=2, le=1000, description="Deepest JSON nesting in a body (400 beyond).")
    max_header_bytes: int = Field(
        default=16_384,
        ge=1024,
        le=1_048_576,
        description="Largest request head, request line and headers (431 beyond).",
    )
    body_read_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="Longest wait for the next part of a request body (408 beyond)."
    )
    header_read_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Longest time to receive a request's head (the connection is closed beyond).",
    )
    rate_limit_per_s: float = Field(
        default=20.0,
        ge=0,
        description="Requests per second per client (token bucket shared by all processes); "
        "0 disables. A client's own limit overrides it.",
    )
    rate_limit_burst: int = Field(default=40, ge=1, description="Bucket size: requests a client may make at once.")
    rate_lease_s: float = Field(
        default=0.25, gt=0, le=5, description="A process leases rate × this many tokens per database trip."
    )
    agency_concurrency: int = Field(
        default=16,
        ge=1,
        description="Calls in flight to one agency across all processes; per agency: "
        "GERBANG_AGENCY_<NAME>_CONCURRENCY.",
    )
    census_interval_s: float = Field(
        default=2.0, gt=0, description="Heartbeat of each process in the shared census (concurrency shares)."
    )
    callback_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts (host, host:port or *.domain) callback URLs may point at, "
        "comma-separated; empty: no callbacks are sent.",
    )
    callback_poll_s: float = Field(default=0.2, gt=0, description="How often new callback events are batched.")
    callback_retry_base_s: float = Field(
        default=1.0, gt=0, description="First wait before resending a batch (doubling, with jitter)."
    )
    callback_retry_max_s: float = Field(default=300.0, gt=0, description="Longest wait between resends.")
    callback_max_age_s: float = Field(
        default=86400.0, gt=0, description="A batch not delivered after this long is dead (replayable)."
    )
    callback_connect_timeout_s: float = Field(default=3.0, gt=0, description="Connect timeout of a callback POST.")
    callback_read_timeout_s: float = Field(default=10.0, gt=0, description="Read timeout of a callback POST.")
    callback_max_response_bytes: int = Field(default=65536, ge=1, description="Most bytes of a receiver's answer read.")
    callback_lease_s: float = Field(
        default=60.0,
        gt=0,
        description="How long one process holds a subscription's sending; a crashed one's is taken over after.",
    )
    demo_api_key: str | None = Field(default=None, description="Fixes the demo client's API key.")
    log_level: str = Field(default="INFO")
    log_format: Literal["text", "json"] = Field(
        default="text", description="Log lines as text, or one JSON object per line (with request and trace ids)."
    )
    ready_cache_s: float = Field(
        default=2.0, ge=0, le=60, description="How long /readyz and /metrics reuse a broker probe (seconds)."
    )
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

    @field_validator("callback_allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: Any) -> Any:
        """A comma-separated list or a list; hosts are compared in lower case (core/callbacks/config.py)."""
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        if isinstance(value, (list, tuple)):
            return [part.lower() if isinstance(part, str) else part for part in value]
        return value

    @field_validator("submit_schedule_s", mode="before")
    @classmethod
    def _schedule(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in (p.strip() for p in value.split(",")) if part]
        if isinstance(value, (list, tuple)) and (not value or any(float(v) < 0 for v in value)):
            raise ValueError("give one or more non-negative waits in seconds, e.g. 30,60,300")
        return value

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        """Why under data_dir: the demo and the CLI then find the same database from the same folder."""
        if not self.database_url:
            self.database_url = default_database_url(self.data_dir)
        return self

    @property
    def embedded(self) -> bool:
        """True when no broker is configured: the outbox is dispatched in-process."""
        return not self.amqp_url

    def agency(self, name: str) -> dict[str, str]:
        """Settings of one agency, keys lower-case (`url`, `user`, `cons_id`, …); empty when none are set."""
        prefix = f"{AGENCY_PREFIX}{name.upper()}_"
        return {k[len(prefix) :].lower(): v for k, v in self.agency_env.items() if k.startswith(prefix)}


def default_database_url(data_dir: Path) -> str:
    """The embedded database when GERBANG_DATABASE_URL is unset: `<data_dir>/gerbang.db`."""
    return f"sqlite:///{(data_dir / 'gerbang.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once. Tests build their own `Settings(...)` instead."""
    return Settings()
