"""No regular expression Gerbang applies to what it is sent takes super-linear time.

Python's `re` backtracks: a pattern with overlapping repetitions can take quadratic (or worse) time on a crafted
string, and it holds the GIL while it does — the depth scan's string pattern stalled the whole API for 13 s on a
64 KB body. Every compiled pattern of core/, identity/, connectors/ and mappings/ (found by walking the modules,
not listed by hand), every pattern written inline in a call, and every `pattern` of every installed connector's
JSON Schemas is run, the whole string through (`finditer`), on adversarial inputs of growing size: a run of one or
two characters the pattern likes, then a character that makes it fail. Sixteen times the input may cost at most
about sixteen times the time (with room for a busy machine; quadratic would be 256 times). Schema patterns are only ever matched up to PATTERN_INPUT_MAX characters
(core/bus/payload_schema.py), so for them the bound is absolute, at that length. (pydantic's `pattern=` fields use
Rust's regex crate, linear by construction, and are not Python patterns.)
"""

from __future__ import annotations

import ast
import importlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.registry import discover
from core.bus.payload_schema import PATTERN_INPUT_MAX, ecma_pattern

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("core", "identity", "connectors", "mappings")
SMALL, LARGE = 2_000, 32_000  # 16× the input: linear ~16× the time, quadratic ~256×
LIMIT = 100  # room for caches and a busy machine, well short of quadratic
# patterns applied by a function that stops early, tested through that function instead
THROUGH_FUNCTION = {"core.api.body_limits._TOKEN": "tests/core/security/test_hostile_requests.py (depth scan)"}
SCANS = {"search", "sub", "subn", "findall", "finditer", "split"}
ALPHABET = [" ", "a", "A", "z", "0", "9", "-", ".", "_", ":", "/", "\\", '"', "'", "<", ">", "=", "\t", "\n", "%",
            "(", ")", "[", "]", "{", "}", ",", "@", "\u00e9"]
PAIRS = [a + b for a in (" ", "a", "0", "\\", '"', "-") for b in (" ", "a", "0", "\\", '"', "-")]
PHRASES = ['nik="', "nik: '", "nik=", "<nik>", "<a:nik x>", "input_value=", "datetime.date(", "2024-01-01 ",
           "12/12/2024", "1234567890123456 ", "sesuai ", "sesuai (", "10:00 - ", "\\u00", "%0", "[1]", "a.b",
           "B 1234 XY ", "\\\"", '"a":', "'a':"]
ENDINGS = ["", "\x00", "\n"]


def _is_source(path: Path) -> bool:
    return "simulator" not in path.name and "simkit" not in path.parts and "__pycache__" not in path.parts


def _module_patterns() -> Iterator[tuple[str, re.Pattern[Any], str]]:
    """Every compiled pattern held at module level in the packages, with how its module applies it."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            source = path.read_text(encoding="utf-8") if _is_source(path) else ""
            if "re.compile" not in source:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            module = importlib.import_module(name)
            for attribute, value in vars(module).items():
                if isinstance(value, re.Pattern):
                    yield f"{name}.{attribute}", value, _mode(source, attribute)


def _mode(source: str, attribute: str) -> str:
    """How `attribute` is applied in `source`: a scan (search, sub … — every start position), else match or
    fullmatch (one start position). A pattern handed on elsewhere (imported) counts as a scan."""
    used = set(re.findall(rf"\b{re.escape(attribute)}\.(\w+)\(", source))
    if used & SCANS or not used:
        return "scan"
    return "match" if "match" in used else "fullmatch"


def _inline_patterns() -> Iterator[tuple[str, re.Pattern[Any], str]]:
    """Every pattern written as a literal in a call to re.search / match / fullmatch / sub / findall / split."""
    calls = SCANS | {"match", "fullmatch"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if not _is_source(path):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in calls
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "re" and node.args
                        and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                    mode = "scan" if node.func.attr in SCANS else node.func.attr
                    yield f"{path.relative_to(ROOT)}:{node.lineno}", re.compile(node.args[0].value), mode


def _schema_patterns(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "pattern" and isinstance(item, str):
                yield item
            else:
                yield from _schema_patterns(item)
    elif isinstance(value, list):
        for item in value:
            yield from _schema_patterns(item)


def _inputs(size: int, binary: bool) -> Iterator[tuple[str, Any]]:
    for pump in ALPHABET + PAIRS + PHRASES:
        for ending in ENDINGS:
            text = "a" + pump * (size // len(pump)) + ending
            yield f"{pump!r}*n+{ending!r}", text.encode("utf-8") if binary else text


def _cost(pattern: re.Pattern[Any], text: Any, mode: str = "scan", runs: int = 3) -> float:
    """Best time of `runs` applications; a scan is `subn`, every start position tried, no match objects made."""
    empty = b"" if isinstance(text, bytes) else ""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        if mode == "scan":
            pattern.subn(empty, text)
        else:
            getattr(pattern, mode)(text)
        best = min(best, time.perf_counter() - started)
    return best


def _ratio(pattern: re.Pattern[Any], small: Any, large: Any, mode: str, runs: int = 3) -> tuple[float, float]:
    slow = _cost(pattern, large, mode, runs)
    return slow, slow / max(_cost(pattern, small, mode, runs), 1e-6)


def _worst_growth(pattern: re.Pattern[Any], mode: str) -> tuple[float, float, str]:
    """(time on the large input, its ratio to the small one, which input) for the input whose time grew most.
    A ratio that looks bad is measured again, more carefully (a busy machine can spoil one timing, rarely four)."""
    binary = isinstance(pattern.pattern, bytes)
    worst = (0.0, 0.0, "")
    for (label, small), (_, large) in zip(_inputs(SMALL, binary), _inputs(LARGE, binary)):
        if _cost(pattern, large, mode, runs=1) < 0.01:  # under 10 ms on 32 000 characters: nothing to see
            continue
        slow, ratio = _ratio(pattern, small, large, mode)
        for _ in range(3):
            if ratio < LIMIT:
                break
            slow, ratio = min((slow, ratio), _ratio(pattern, small, large, mode, runs=7), key=lambda t: t[1])
        if ratio > worst[1]:
            worst = (slow, ratio, label)
    return worst


CODE_PATTERNS = {name: (pattern, mode) for name, pattern, mode in [*_module_patterns(), *_inline_patterns()]
                 if name not in THROUGH_FUNCTION}


def test_the_walk_finds_the_patterns_we_know_of() -> None:
    names = set(CODE_PATTERNS)
    assert {"core.logs._KEY_VALUE", "core.api.text_checks._JSON_SUSPECT",
            "connectors.samsat.client.PLATE", "mappings.plan._SEGMENT"} <= names
    assert len(CODE_PATTERNS) >= 30


@pytest.mark.parametrize("name", sorted(CODE_PATTERNS))
def test_a_pattern_in_the_code_is_linear(name: str) -> None:
    slow, ratio, label = _worst_growth(*CODE_PATTERNS[name])
    assert ratio < LIMIT, f"{name}: 16× the input ({label}) took {ratio:.0f}× the time ({slow * 1000:.1f} ms)"


def _all_schema_patterns() -> list[str]:
    found: set[str] = set()
    for plugin in discover().values():
        found.update(_schema_patterns(dict(plugin.services)))
    return sorted(found)


@pytest.mark.parametrize("pattern", _all_schema_patterns())
def test_a_schema_pattern_is_cheap_up_to_the_longest_string_it_is_given(pattern: str) -> None:
    compiled = ecma_pattern(pattern)
    worst = max(_cost(compiled, text) for _, text in _inputs(PATTERN_INPUT_MAX, False))
    assert worst < 0.02, f"{pattern}: {worst * 1000:.1f} ms on {PATTERN_INPUT_MAX} characters"
