"""The bus's own secrets: the NIK hash key and the data-at-rest keys.

Distributed processes must share them, so with PostgreSQL they come from settings (`GERBANG_NIK_HASH_KEY`,
`GERBANG_DATA_KEYS`) and their absence stops the process. In the embedded default they are generated once into
`<data_dir>/secrets.json` (mode 0600) so a first run needs no set-up.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from core.db.engine import normalise_url
from core.settings import Settings
from identity.secrecy import DataKeys

SECRETS_FILE = "secrets.json"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BusSecrets:
    nik_hash_key: bytes
    data_keys: DataKeys


def new_secret_values() -> dict[str, str]:
    """Fresh values for GERBANG_NIK_HASH_KEY and GERBANG_DATA_KEYS."""
    return {
        "nik_hash_key": base64.b64encode(secrets.token_bytes(32)).decode(),
        "data_keys": f"k1:{base64.b64encode(secrets.token_bytes(32)).decode()}",
    }


def is_embedded_database(url: str) -> bool:
    return make_url(normalise_url(url)).get_backend_name() == "sqlite"


def load_secrets(settings: Settings) -> BusSecrets:
    """The secrets from settings, or (embedded only) from the data directory, created on first use. Data keys read
    from the file follow it: `gerbang keys rotate` rewrites it and running processes pick the new set up."""
    hash_key, data_keys = settings.nik_hash_key, settings.data_keys
    reload = None
    if not (hash_key and data_keys):
        if not is_embedded_database(settings.database_url):
            raise ValueError(
                "with a shared database every process needs the same GERBANG_NIK_HASH_KEY and "
                "GERBANG_DATA_KEYS; generate them with `gerbang keys generate`"
            )
        stored = stored_secrets(settings.data_dir)
        if not data_keys:
            reload = file_reloader(settings.data_dir / SECRETS_FILE)
        hash_key, data_keys = hash_key or stored["nik_hash_key"], data_keys or stored["data_keys"]
    key = base64.b64decode(hash_key, validate=True)
    if len(key) < 32:
        raise ValueError("GERBANG_NIK_HASH_KEY must be at least 32 bytes (base64)")
    return BusSecrets(nik_hash_key=key, data_keys=DataKeys.parse(data_keys, reload=reload))


def data_keys_from_file(settings: Settings) -> bool:
    """True when the data keys live in `<data_dir>/secrets.json` (embedded, GERBANG_DATA_KEYS unset)."""
    return not settings.data_keys and is_embedded_database(settings.database_url)


def file_reloader(path: Path) -> Callable[[], DataKeys | None]:
    """A DataKeys reload source: the data keys of `path` when the file changed since the last look, else None."""

    def stamp() -> tuple[int, int] | None:
        try:
            info = path.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    seen = [stamp()]

    def reload() -> DataKeys | None:
        now = stamp()
        if now is None or now == seen[0]:
            return None
        seen[0] = now
        try:
            return DataKeys.parse(json.loads(path.read_text())["data_keys"])
        except (OSError, ValueError, KeyError) as exc:  # a half-written or broken file: keep the keys we have
            log.error("cannot reload data keys from %s (%s)", path, type(exc).__name__)
            return None

    return reload


def write_private_json(path: Path, values: Mapping[str, str]) -> None:
    """Replace a file of keys (the secrets file, the demo's keys) atomically, readable by its owner only (0600):
    readers see the old file or the new, never half, and the bytes are on disk before the rename, so a crash
    leaves no empty file in its place."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def stored_secrets(data_dir: Path) -> dict[str, str]:
    """Read `<data_dir>/secrets.json`, creating it (0600) with new values if absent."""
    path = data_dir / SECRETS_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        values = new_secret_values()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it a moment ago
            return json.loads(path.read_text())
        with os.fdopen(fd, "w") as handle:
            json.dump(values, handle)
        return values
    return json.loads(path.read_text())
