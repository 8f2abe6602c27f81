"""docs/writing-a-connector.md works as written: every command of its `console` blocks, run in order in an empty
folder holding the example WSDL, succeeds.

`gerbang`, `pytest` and `pip` are this virtualenv's; `pip install` installs into a separate target directory (put on
PYTHONPATH for the commands after it), never into the project's virtualenv.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from tests.connectors.test_out_of_tree import builds_in_place

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "writing-a-connector.md"
WSDL = ROOT / "tests" / "connectors" / "fixtures" / "perpustakaan.wsdl"


def console_commands(text: str) -> list[str]:
    """The `$ ` lines of every ```console block, in order."""
    blocks = re.findall(r"^```console\n(.*?)^```", text, flags=re.S | re.M)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]


def localised(command: str, site: Path) -> str:
    """The command with this environment's tools; `pip install` goes to `site`."""
    bin_dir = Path(sys.executable).parent
    words = command.split(" ", 1)
    tool = {"gerbang": bin_dir / "gerbang", "pytest": bin_dir / "pytest", "pip": bin_dir / "pip"}.get(words[0])
    if tool is None:
        return command
    rest = words[1] if len(words) > 1 else ""
    if words[0] == "pip" and rest.startswith("install "):
        isolation = " --no-build-isolation" if builds_in_place() else ""
        rest = f"install -q --no-deps --target {shlex.quote(str(site))}{isolation} {rest[len('install '):]}"
    return f"{shlex.quote(str(tool))} {rest}".strip()


def test_the_doc_has_the_walk_through() -> None:
    commands = console_commands(DOC.read_text(encoding="utf-8"))
    assert commands[0].startswith("gerbang connectors new perpustakaan --soap perpustakaan.wsdl")
    assert any(c.startswith("pip install") for c in commands)
    assert "gerbang connectors check perpustakaan" in commands


def test_following_the_doc_step_by_step_works(tmp_path: Path) -> None:
    work, site = tmp_path / "work", tmp_path / "site"
    work.mkdir()
    shutil.copyfile(WSDL, work / "perpustakaan.wsdl")
    script = ["set -e"]
    for command in console_commands(DOC.read_text(encoding="utf-8")):
        script += [f"echo '>>> {command.replace(chr(39), '')}'", localised(command, site)]
    env = {**os.environ, "PYTHONPATH": str(site), "GERBANG_DATA_DIR": str(tmp_path / "data"),
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # the connector's own tests need no pytest plug-in: faster
    env.pop("GERBANG_DATABASE_URL", None)
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=work, env=env, capture_output=True, text=True,
                          timeout=115)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "perpustakaan: 13/13 checks passed" in output
    assert re.search(r"^perpustakaan +soap +facet=perpustakaan +services=daftar_anggota", output, re.M), output
    assert (site / "gerbang_perpustakaan" / "mapping.yaml").is_file()
