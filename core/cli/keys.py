"""`gerbang keys …`: the bus's own secrets (NIK hash key, data-at-rest keys) and data-key rotation.

Embedded (keys in `<data_dir>/secrets.json`): `gerbang keys rotate` does everything — a new active key into the
file (running processes pick it up within a second or two), every ciphertext re-encrypted, and with `--retire` the
old keys dropped. Distributed (GERBANG_DATA_KEYS, the same in every process): the key set changes by deployment,
so rotation is staged — `keys add` (deploy: every process can read the new key), `keys add --activate` or
reorder by hand (deploy: the new key encrypts), `keys rotate` (re-encrypt), `keys rotate --retire` (prints the
value without the old keys; deploy). docs/security.md walks through it.
"""

from __future__ import annotations

import base64
import json
import re
import secrets as random
import time

import typer

from core.cli.common import database_failed, fail
from core.settings import get_settings
from identity.secrecy import DataKeys

app = typer.Typer(help="The bus's secrets: NIK hash key and data-at-rest encryption keys.", no_args_is_help=True)
RELOAD_WAIT_S = 2.5  # running processes look at the secrets file at most every second before encrypting


@app.callback()
def _group() -> None:
    """The bus's secrets."""


@app.command("generate")
def generate() -> None:
    """Print fresh GERBANG_NIK_HASH_KEY and GERBANG_DATA_KEYS lines for a distributed deployment's environment."""
    from core.security.secrets import new_secret_values

    for name, value in new_secret_values().items():
        typer.echo(f"GERBANG_{name.upper()}={value}")


def entries(text: str) -> list[tuple[str, str]]:
    """`kid:base64,…` as [(kid, base64)], checked (DataKeys.parse raises for a malformed set)."""
    DataKeys.parse(text)
    return [
        (kid.strip(), key.strip()) for kid, _, key in (p.strip().partition(":") for p in text.split(",") if p.strip())
    ]


def joined(items: list[tuple[str, str]]) -> str:
    return ",".join(f"{kid}:{key}" for kid, key in items)


def next_key_id(existing: list[str]) -> str:
    numbers = [int(m.group(1)) for kid in existing if (m := re.fullmatch(r"k(\d+)", kid))]
    candidate = f"k{max(numbers, default=0) + 1}"
    return candidate if candidate not in existing else f"k{int(time.time())}"


def new_entry(existing: list[tuple[str, str]]) -> tuple[str, str]:
    return next_key_id([kid for kid, _ in existing]), base64.b64encode(random.token_bytes(32)).decode()


def current_text() -> str:
    from core.security.secrets import data_keys_from_file, stored_secrets

    settings = get_settings()
    if data_keys_from_file(settings):
        return str(stored_secrets(settings.data_dir)["data_keys"])
    if not settings.data_keys:
        fail("with a shared database the data keys come from GERBANG_DATA_KEYS, which is not set")
    return settings.data_keys


def save(items: list[tuple[str, str]]) -> None:
    from core.security.secrets import SECRETS_FILE, stored_secrets, write_private_json

    settings = get_settings()
    stored = stored_secrets(settings.data_dir)
    write_private_json(settings.data_dir / SECRETS_FILE, {**stored, "data_keys": joined(items)})


@app.command("list")
def list_keys() -> None:
    """The data keys (ids only; the active one first) and how many stored ciphertexts each protects."""
    from sqlalchemy.exc import SQLAlchemyError

    from core.db import make_engine
    from core.security.rotation import keys_in_use

    items = entries(current_text())
    try:
        engine = make_engine(get_settings().database_url)
        try:
            used = keys_in_use(engine)
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        database_failed(exc)
    for index, (kid, _) in enumerate(items):
        typer.echo(json.dumps({"key_id": kid, "active": index == 0, "ciphertexts": used.get(kid, 0)}))
    for kid in sorted(set(used) - {kid for kid, _ in items}):
        typer.echo(json.dumps({"key_id": kid, "active": False, "ciphertexts": used[kid], "unknown": True}))


@app.command("add")
def add(activate: bool = typer.Option(False, help="Make the new key the active one (first)")) -> None:
    """Introduce a new data key. Embedded: written to the secrets file. Distributed: prints the new
    GERBANG_DATA_KEYS value to deploy — first without --activate (every process learns the key), then with it."""
    from core.security.secrets import data_keys_from_file

    items = entries(current_text())
    entry = new_entry(items)
    items = [entry, *items] if activate else [*items, entry]
    if data_keys_from_file(get_settings()):
        save(items)
        typer.echo(json.dumps({"added": entry[0], "active": items[0][0]}))
    else:
        typer.echo(f"GERBANG_DATA_KEYS={joined(items)}")
        typer.secho(
            f"Deploy this value to every process; {entry[0]} is "
            f"{'now the active key' if activate else 'known but not yet active'}.",
            err=True,
        )


MAX_RELOAD_WAIT_S = 3600.0


@app.command("rotate")
def rotate(
    retire: bool = typer.Option(False, help="Afterwards, drop every key that no longer protects anything"),
    wait: float = typer.Option(
        RELOAD_WAIT_S, help="Embedded: seconds for running processes to take the new key up before re-encryption"
    ),
) -> None:
    """Re-encrypt everything stored under the active data key. Embedded: first introduce a new key and make it
    active. With --retire, then retire the keys nothing uses any more."""
    if not 0 <= wait <= MAX_RELOAD_WAIT_S:  # checked before a key is saved (also refuses nan and inf)
        fail(f"--wait is seconds from 0 to {MAX_RELOAD_WAIT_S:.0f}")
    from sqlalchemy.exc import SQLAlchemyError

    from core.db import make_engine
    from core.security.rotation import keys_in_use, reencrypt
    from core.security.secrets import data_keys_from_file

    settings = get_settings()
    from_file = data_keys_from_file(settings)
    items = entries(current_text())
    added = None
    if from_file:
        entry = new_entry(items)
        items = [entry, *items]
        save(items)
        added = entry[0]
        time.sleep(max(0.0, wait))
    keys = DataKeys.parse(joined(items))
    try:
        engine = make_engine(settings.database_url)
        try:
            done = reencrypt(engine, keys)
            used = keys_in_use(engine)
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        database_failed(exc)
    retirable = [kid for kid, _ in items[1:] if not used.get(kid)]
    summary = {
        "added": added,
        "active": keys.active,
        "reencrypted": {
            "cache": done.cache_rows,
            "application_payloads": done.payloads,
            "application_results": done.results,
        },
        "cache_rows_dropped": done.cache_dropped,
        "unreadable_applications": done.unreadable,
        "retirable": retirable,
    }
    if done.unreadable:
        typer.echo(json.dumps(summary))
        fail(f"{len(done.unreadable)} application(s) could not be opened with any known key; nothing retired")
    if retire and retirable:
        kept = [item for item in items if item[0] not in retirable]
        if from_file:
            save(kept)
        else:
            summary["GERBANG_DATA_KEYS"] = joined(kept)
        summary["retired"] = retirable
    typer.echo(json.dumps(summary))
    if retire and not from_file and retirable:
        typer.secho("Deploy the GERBANG_DATA_KEYS value above to every process to finish retiring.", err=True)


@app.command("retire")
def retire_key(key_id: str = typer.Argument(..., help="The data key to drop")) -> None:
    """Drop one data key, refusing while any stored ciphertext still uses it (run `keys rotate` first)."""
    from core.db import make_engine
    from core.security.rotation import keys_in_use
    from core.security.secrets import SECRETS_FILE, data_keys_from_file

    items = entries(current_text())
    if key_id not in {kid for kid, _ in items}:
        fail(f"no data key {key_id!r}")
    if items[0][0] == key_id:
        fail(f"{key_id} is the active key; rotate to another first")
    engine = make_engine(get_settings().database_url)
    try:
        used = keys_in_use(engine).get(key_id, 0)
    finally:
        engine.dispose()
    if used:
        fail(f"{key_id} still protects {used} stored ciphertext(s); run `gerbang keys rotate` first")
    kept = [item for item in items if item[0] != key_id]
    if data_keys_from_file(get_settings()):
        save(kept)
        typer.echo(json.dumps({"retired": key_id, "file": str(get_settings().data_dir / SECRETS_FILE)}))
    else:
        typer.echo(f"GERBANG_DATA_KEYS={joined(kept)}")
