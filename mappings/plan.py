"""A mapping's compiled form: source paths, transform steps and the rules that fill a canonical model.

Why apart: the checks that build it (`mappings.compiler`) and the code that runs it (`mappings.apply`) share these
types and nothing else.
"""

from __future__ import annotations

import re
from collections import abc
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel


class MappingError(ValueError):
    """A mapping file that is wrong (at load), or an agency value it cannot convert (at apply; value not shown)."""


MISSING: Any = object()  # a spec key the file does not give (None is a value a file may give)
_SEGMENT = re.compile(r"([^\[\]]*)((?:\[-?[0-9]+\])*)")


@dataclass(frozen=True)
class SourcePath:
    """A parsed source path: `peserta.hakKelas.kode`, `content[0].NIK` (or `content.0.NIK`)."""

    text: str
    segments: tuple[str | int, ...]

    @classmethod
    def parse(cls, text: str) -> SourcePath:
        segments: list[str | int] = []
        for part in text.split("."):
            match = _SEGMENT.fullmatch(part)
            if match is None or (not match.group(1) and not match.group(2)):
                raise ValueError(f"malformed source path {text!r}")
            if match.group(1):
                segments.append(match.group(1))
            segments.extend(int(i) for i in re.findall(r"-?[0-9]+", match.group(2)))
        return cls(text, tuple(segments))

    def read(self, data: Any) -> Any:
        """The value at this path; None when a key, an index or an intermediate object is missing or null."""
        current = data
        for segment in self.segments:
            if current is None:
                return None
            if isinstance(current, abc.Mapping):
                current = current.get(str(segment))
            elif isinstance(current, list | tuple):
                if isinstance(segment, str) and not re.fullmatch(r"-?[0-9]+", segment):
                    raise ShapeError(f"a list where {self.text!r} expects an object")
                index = int(segment)
                current = current[index] if -len(current) <= index < len(current) else None
            else:
                raise ShapeError(f"a {type(current).__name__} where {self.text!r} expects an object or list")
        return current


class ShapeError(Exception):
    """The agency reply does not have the shape a source path expects (its format changed)."""


@dataclass(frozen=True, eq=False)
class Step:
    """One transform call with the arguments given in the file."""

    name: str
    fn: abc.Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Rule:
    """How one canonical field is filled. `target` () means the list element itself (scalar `each`)."""

    target: tuple[str, ...]
    label: str  # canonical field as written in the file, e.g. "address.rt", "vehicles[].plate"
    sources: tuple[SourcePath, ...]  # empty: the value itself (scalar `each` without `from`) or a constant
    multi: bool  # `from` was a list: transforms receive a list of values
    steps: tuple[Step, ...] = ()
    default: Any = MISSING
    const: Any = MISSING
    each: Plan | Rule | None = None  # list items: a Plan for model items, a Rule for plain values


@dataclass(frozen=True, eq=False)
class Plan:
    """The rules that build one model's input dict, plus nested models that must exist even when empty."""

    model: type[BaseModel]
    rules: tuple[Rule, ...]
    required_nested: tuple[tuple[str, ...], ...] = ()
