"""Every third-party module the product packages import is a declared dependency (deptry reads pyproject.toml).

Why: a dependency that only the test extras bring in makes the suite green and `pip install .` broken. Config and
the few packages loaded by name rather than imported are in pyproject.toml's [tool.deptry]. (Extras such as
`zeep[async]` cannot be seen in imports; .ci/smoke_wheel.sh covers them by running the demo from a bare install.)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def deptry(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deptry", "."], cwd=root, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin"})


def test_product_imports_only_declared_dependencies() -> None:
    result = deptry(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deptry_catches_an_undeclared_or_test_only_import(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "leak.py").write_text("import respx\nimport not_declared_anywhere\n")
    result = deptry(tmp_path)
    assert result.returncode == 1
    report = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)  # deptry colours even into a pipe
    assert "DEP004 'respx'" in report  # a test extra used by product code
    assert "DEP001 'not_declared_anywhere'" in report  # imported, declared nowhere
