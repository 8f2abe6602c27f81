"""The product code's checks, in the suite: ruff (lint and format), mypy, the import-linter contracts of the
rooms' layering (pyproject.toml), the number of `# type: ignore`, and module sizes.

Why here and not only in CI: a renovation that several people land at once stays one layout only if every
landing is held to the same rules. Each check goes through one small runner, and a test feeds that runner a bad
snippet, so a check that silently stopped checking (a wrong path, a tool that is not installed) fails too.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("connectors", "core", "identity", "mappings")
TOOLS = Path(sys.executable).parent  # the venv's ruff, mypy and lint-imports
MAX_LINES = 400
MAX_TYPE_IGNORES = 19


def _run(tool: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TOOLS / tool), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def ruff_problems(*args: str, cwd: Path = ROOT) -> str:
    """What `ruff <args>` objects to; empty when it passes."""
    done = _run("ruff", *args, cwd=cwd)
    return "" if done.returncode == 0 else done.stdout + done.stderr


def mypy_errors(*args: str, cwd: Path = ROOT) -> set[str]:
    """mypy's errors as 'file: message' (line numbers move with every edit); the configuration is pyproject's."""
    done = _run("mypy", "--no-error-summary", "--no-pretty", *args, cwd=cwd)
    errors = {
        f"{m['file']}: {m['message']}"
        for m in re.finditer(r"^(?P<file>[^:\n]+):\d+: error: (?P<message>.*?)(?:  \[[\w-]+\])?$", done.stdout, re.M)
    }
    assert errors or done.returncode == 0, done.stdout + done.stderr
    return errors


def broken_contracts(names: Iterable[str], *args: str, cwd: Path = ROOT) -> set[str]:
    """Which of the import-linter contracts `names` `lint-imports` reports broken (each must be reported)."""
    done = _run("lint-imports", "--no-cache", *args, cwd=cwd)
    report = " ".join(done.stdout.split())  # long contract names wrap
    states = {name: re.search(re.escape(" ".join(name.split())) + r" (KEPT|BROKEN)\b", report) for name in names}
    assert all(states.values()), done.stdout + done.stderr
    return {name for name, state in states.items() if state and state.group(1) == "BROKEN"}


def contract_names(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    return [contract["name"] for contract in config["tool"]["importlinter"]["contracts"]]


def type_ignores(text: str) -> int:
    return len(re.findall(r"#\s*type:\s*ignore\b", text))


def product_modules(root: Path = ROOT) -> dict[str, str]:
    """Every product module's path (relative, POSIX) and text; the scaffold's templates are not modules."""
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for room in PRODUCT
        for path in sorted((root / room).rglob("*.py"))
        if "templates" not in path.relative_to(root).parts
    }


def oversize(modules: dict[str, str]) -> dict[str, int]:
    """Modules over MAX_LINES and their line counts (as `wc -l` counts them)."""
    lines = {path: text.count("\n") for path, text in modules.items()}
    return {path: n for path, n in lines.items() if n > MAX_LINES}


# --- the product code ---------------------------------------------------------------------------------------


def test_ruff_lint() -> None:
    assert ruff_problems("check", *PRODUCT) == ""


def test_ruff_format() -> None:
    assert ruff_problems("format", "--check", *PRODUCT) == ""


def test_mypy() -> None:
    assert mypy_errors() == set()


def test_import_contracts() -> None:
    assert broken_contracts(contract_names()) == set()


def test_type_ignores() -> None:
    count = sum(type_ignores(text) for text in product_modules().values())
    assert count <= MAX_TYPE_IGNORES


def test_no_module_over_400_lines() -> None:
    assert oversize(product_modules()) == {}


# --- each check can fail ------------------------------------------------------------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_ruff_finds_a_lint_error_and_bad_formatting(tmp_path: Path) -> None:
    _package(tmp_path, {"pyproject.toml": "[tool.ruff]\nline-length = 120\n", "bad.py": "import os\nx = {'a':1}\n"})
    assert "F401" in ruff_problems("check", "bad.py", cwd=tmp_path)
    assert "bad.py" in ruff_problems("format", "--check", "bad.py", cwd=tmp_path)


def test_mypy_finds_a_type_error(tmp_path: Path) -> None:
    _package(tmp_path, {"bad.py": "def half(n: int) -> int:\n    return n / 2\n"})
    assert mypy_errors("--config-file=", "--cache-dir=/dev/null", "bad.py", cwd=tmp_path) == {
        'bad.py: Incompatible return value type (got "float", expected "int")'
    }


def test_lint_imports_finds_a_broken_layer(tmp_path: Path) -> None:
    contract = "[importlinter]\nroot_package = app\n\n[importlinter:contract:layers]\nname = Web over data\n"
    contract += "type = layers\nlayers =\n    app.web\n    app.data\n"
    _package(
        tmp_path,
        {
            ".importlinter": contract,
            "app/__init__.py": "",
            "app/web.py": "",
            "app/data.py": "from app import web\n",
        },
    )
    assert broken_contracts(["Web over data"], cwd=tmp_path) == {"Web over data"}


def test_counters_see_type_ignores_and_long_modules(tmp_path: Path) -> None:
    assert type_ignores("x = 1  # type: ignore[assignment]\ny = 2  # type:ignore\nz = 3  # a type, ignored\n") == 2
    _package(tmp_path, {"core/long.py": "x = 1\n" * (MAX_LINES + 1), "core/short.py": "x = 1\n"})
    assert oversize(product_modules(tmp_path)) == {"core/long.py": MAX_LINES + 1}
