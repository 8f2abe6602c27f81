"""``gerbang nik``: check NIKs from the command line, one JSON object per line (JSON Lines).

Meant for operators and scripts (``cut -d, -f1 export.csv | gerbang nik parse``): it reads arguments or stdin,
prints ``NikInfo.to_json()`` per NIK, and exits 1 when any NIK is invalid, so a shell pipeline can test it.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterable, Iterator

import typer

from identity.nik import parse_nik

app = typer.Typer(
    help="Check NIKs (Nomor Induk Kependudukan) by their structure: region, birth date, sex, serial.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _group() -> None:
    """Check NIKs by their structure (no agency is asked)."""
    # A callback keeps `parse` a named sub-command even though it is the only one.


def _stdin_lines() -> Iterator[str]:
    """Lines of stdin as text; undecodable bytes become U+FFFD (then a ``nik_format`` error), not a traceback."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:
        yield from sys.stdin
        return
    for number, raw in enumerate(buffer):
        line = raw.decode("utf-8", errors="replace")
        yield line.removeprefix("\ufeff") if number == 0 else line


def _nonblank(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        text = line.rstrip("\r\n")
        if text.strip():
            yield text


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not complain about the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


@app.command("parse")
def parse(
    niks: list[str] | None = typer.Argument(
        None,
        metavar="NIK",
        help="NIKs to check. Without any, read one NIK per line from stdin (blank lines are skipped).",
        show_default=False,
    ),
) -> None:
    """Print one JSON object per NIK; exit 1 if any is invalid."""
    if niks:
        inputs: Iterable[str] = niks
    elif sys.stdin is None or sys.stdin.isatty():
        typer.echo("Give NIKs as arguments, or pipe them on stdin one per line.", err=True)
        raise typer.Exit(2)
    else:
        inputs = _nonblank(_stdin_lines())

    any_invalid = False
    try:
        for text in inputs:
            info = parse_nik(text)
            any_invalid = any_invalid or not info.valid
            sys.stdout.write(json.dumps(info.to_json(), ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `gerbang nik parse < big.txt | head`: the reader left, nothing to report
        _silence_stdout()
        raise typer.Exit(1 if any_invalid else 0) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    raise typer.Exit(1 if any_invalid else 0)
