"""`gerbang audit …`: the log's key, offline verification of an export, and operator chores.

`verify` needs nothing but the bundle and the public key: it is what an auditor runs on their own machine.
Exit codes of `verify`: 0 verified, 1 the bundle fails (the message names the first bad index or what failed),
2 usage errors (unreadable files, bad key).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from core.cli.common import atomic_file, fail

app = typer.Typer(help="The signed audit log: keys, offline verification, sequencing and export.", no_args_is_help=True)


def _text_or_file(value: str, what: str) -> str:
    """A key or note given inline or as a path to a file holding it."""
    path = Path(value)
    if "\n" not in value and len(value) < 4096 and path.is_file():
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {what} {value}: {exc}")
    return value


@app.command("keygen")
def keygen(
    origin: str = typer.Option(None, "--origin", help="Key name = log origin (default: GERBANG_AUDIT_ORIGIN)"),
    out: Path = typer.Option(
        None,
        "--out",
        help="Where to write the signer key (0600; default: "
        "GERBANG_SIGNING_KEY_PATH, else <data_dir>/audit-signer.key)",
    ),
) -> None:
    """Create the log's Ed25519 signer key (never overwrites) and print its verifier key."""
    from core.audit import note
    from core.audit.signer import KEY_FILE, write_new_key
    from core.settings import get_settings

    settings = get_settings()
    name = origin or settings.audit_origin
    if not note.is_valid_name(name):
        fail(f"invalid origin {name!r}: non-empty, no spaces, no '+'")
    path = out or settings.signing_key_path or settings.data_dir / KEY_FILE
    try:
        vkey = write_new_key(path, name)
    except FileExistsError:
        fail(f"{path} exists; refusing to overwrite a signing key")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")
    typer.secho(
        f"signer key written to {path} (keep it secret; point GERBANG_SIGNING_KEY_PATH at it)",
        err=True,
        fg=typer.colors.YELLOW,
    )
    typer.echo(vkey)


@app.command("verify")
def verify(
    bundle: Path = typer.Argument(..., help="An export from GET /v1/audit/export or `gerbang audit export`"),
    key: str = typer.Option(..., "--key", help="The log's verifier key (text, or a file holding it)"),
    earlier: str = typer.Option(
        None, "--earlier", help="A signed checkpoint you kept before (file or text): the bundle's must extend it"
    ),
) -> None:
    """Check an export offline: signatures, every entry against the signed root, and consistency with an earlier
    checkpoint. Exits 1 naming the first bad index (or what failed)."""
    from core.audit import bundle as bundle_mod
    from core.audit import note

    try:
        verifier = note.parse_verifier(_text_or_file(key, "key").strip())
    except note.NoteError as exc:
        fail(f"--key is not a verifier key: {exc}")
    if earlier is not None and "\n" not in earlier and not Path(earlier).is_file():
        # a signed checkpoint is several lines: one line that names no file is a mistyped path, not a note
        fail(f"--earlier: no such file {earlier!r} (give the file of a signed checkpoint, or its text)")
    earlier_text = _text_or_file(earlier, "checkpoint") if earlier else None
    try:
        data = sys.stdin.buffer.read() if str(bundle) == "-" else bundle.read_bytes()
    except OSError as exc:
        fail(f"cannot read {bundle}: {exc.strerror or exc}")
    try:
        result = bundle_mod.verify(data, verifier, earlier_text)
    except bundle_mod.BundleError as exc:
        typer.secho(f"FAILED at {exc.where}: {exc.args[0]}", err=True, fg=typer.colors.RED)
        typer.echo(
            json.dumps({"ok": False, "kind": exc.kind, "index": exc.index, "upto": exc.upto, "message": exc.args[0]})
        )
        raise typer.Exit(1) from None
    typer.echo(
        json.dumps(
            {
                "ok": True,
                "origin": result.origin,
                "size": result.checkpoint.size,
                "start": result.start,
                "end": result.end,
                "entries": result.count,
                "checkpoints_checked": result.checkpoints_checked,
                "earlier_size": result.earlier_size,
            }
        )
    )


@app.command("sequence")
def sequence(checkpoint: bool = typer.Option(True, help="Also sign a checkpoint covering everything")) -> None:
    """Sequence pending entries now (the API does this every 200 ms; useful for workers-only deployments)."""
    from core.audit.sequencer import Policy, SequencerError
    from core.audit.sequencer import sequence as run
    from core.audit.signer import load_signer
    from core.db import make_engine
    from core.settings import get_settings

    settings = get_settings()
    try:
        signer = load_signer(settings)
    except ValueError as exc:
        fail(str(exc))
    engine = make_engine(settings.database_url)
    try:
        result = run(
            engine,
            signer,
            Policy(settings.audit_checkpoint_entries, settings.audit_checkpoint_interval_s),
            force_checkpoint=checkpoint,
        )
    except SequencerError as exc:
        fail(f"the sequencer refuses: {exc}", 1)
    finally:
        engine.dispose()
    typer.echo(json.dumps({"sequenced": result.sequenced, "size": result.size, "signed": result.signed}))


@app.command("checkpoint")
def checkpoint() -> None:
    """Print the latest signed checkpoint (as GET /v1/audit/checkpoint, without sequencing)."""
    from core.audit import store
    from core.db import make_engine
    from core.settings import get_settings

    engine = make_engine(get_settings().database_url)
    try:
        with engine.connect() as conn:
            latest = store.latest_checkpoint(conn)
    finally:
        engine.dispose()
    if latest is None:
        fail("no checkpoint signed yet (run `gerbang audit sequence`)")
    typer.echo(latest.note, nl=False)


@app.command("export")
def export(
    out: Path = typer.Option(..., "--out", help="Bundle file to write"),
    start: int = typer.Option(0, "--from", min=0, help="First index"),
    end: int = typer.Option(None, "--to", min=0, help="End index, exclusive (default: latest checkpoint size)"),
) -> None:
    """Write an export bundle straight from the database (operators; auditors use GET /v1/audit/export)."""
    from core.audit import export, store
    from core.db import make_engine
    from core.settings import get_settings

    engine = make_engine(get_settings().database_url)
    try:
        with engine.connect() as conn:
            latest = store.latest_checkpoint(conn)
            if latest is None:
                fail("no checkpoint signed yet (run `gerbang audit sequence`)")
            stop = latest.size if end is None else end
            if not start <= stop <= latest.size:
                fail(f"need 0 <= --from <= --to <= {latest.size} (the latest checkpoint)")
            with atomic_file(out) as handle:  # whole or not at all: a Ctrl-C leaves no truncated bundle
                for chunk in export.export_chunks(conn, start, stop, latest):
                    handle.write(chunk)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    finally:
        engine.dispose()
    typer.echo(json.dumps({"out": str(out), "from": start, "to": stop, "size": latest.size}))
