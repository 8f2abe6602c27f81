"""The registry of problem codes (core/api/problem_codes.py) is the truth: every code the source can raise is in it
with the status it is raised with, it lists nothing the source never raises, and README's table is made from it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from core.api.problem_codes import CODES, HTTP_CODES, readme_table

ROOT = Path(__file__).resolve().parents[3]
# codes a call passes as a variable: (file, variable) → the codes it can hold
INDIRECT = {("core/api/auth.py", "refusal"): {"agreement_expired", "agreement_not_started"}}
PASS_THROUGH = {"core/api/problems.py", "core/api/body_limits.py",
                "core/api/http_guard.py"}  # they pass on codes their callers give


def _branches(node: ast.expr) -> list[ast.expr]:
    return [node.body, node.orelse] if isinstance(node, ast.IfExp) else [node]


def raised(path: Path, relative: str | None = None) -> Iterator[tuple[int | None, str, int]]:
    """(status, code, line) of every `Problem(status, code, …)`, `problem_body(status, code, …)` and
    `_refuse(scope, send, status, code, …)`."""
    relative = relative or path.relative_to(ROOT).as_posix()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        args = (node.args[:2] if name in ("Problem", "problem_body") else node.args[2:4] if name == "_refuse"
                else [])
        if len(args) < 2:
            continue
        for status, code in zip(_branches(args[0]), _branches(args[1])):
            value = status.value if isinstance(status, ast.Constant) else None
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                yield value, code.value, node.lineno
            elif isinstance(code, ast.Name) and (relative, code.id) in INDIRECT:
                for indirect in sorted(INDIRECT[(relative, code.id)]):
                    yield value, indirect, node.lineno
            elif relative not in PASS_THROUGH:
                raise AssertionError(f"{relative}:{node.lineno}: a problem code the test cannot read; add it to "
                                     "INDIRECT")


def every_raised() -> dict[str, set[int | None]]:
    found: dict[str, set[int | None]] = {}
    for folder in ("core", "connectors", "identity", "mappings"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for status, code, _ in raised(path):
                found.setdefault(code, set()).add(status)
    return found


def test_every_code_raised_is_registered_with_its_status() -> None:
    found = every_raised()
    assert len(found) > 30
    unregistered = sorted(set(found) - set(CODES))
    assert not unregistered, f"add these to core/api/problem_codes.py: {unregistered}"
    wrong = {code: statuses for code, statuses in found.items() if statuses - {None, CODES[code].status}}
    assert not wrong, f"raised with another status than the registry's: {wrong}"
    for status, code in HTTP_CODES.items():
        assert CODES[code].status == status


def test_the_registry_lists_nothing_the_source_never_raises() -> None:
    stale = set(CODES) - set(every_raised()) - set(HTTP_CODES.values())
    assert not stale, f"no source raises {sorted(stale)}"


def test_the_readme_table_is_the_registry() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_table() in readme, ("README's error table differs from core/api/problem_codes.py; paste "
                                      "`python -c 'from core.api.problem_codes import readme_table; "
                                      "print(readme_table())'` over it")


def test_the_scan_sees_a_new_code(tmp_path: Path) -> None:
    """The scan can fail: a code it has not seen is reported."""
    source = tmp_path / "probe.py"
    source.write_text('raise Problem(418 if x else 400, "teapot_refused" if x else "nik_invalid", "no")\n',
                      encoding="utf-8")
    assert {(s, c) for s, c, _ in raised(source, "core/probe.py")} == {(418, "teapot_refused"),
                                                                        (400, "nik_invalid")}
