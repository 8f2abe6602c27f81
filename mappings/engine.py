"""The mapping engine: load a declarative agency → canonical mapping (YAML), check it, apply it.

A mapping is checked against the facet's pydantic model when it is loaded, so a typo in a canonical field or a
transform name fails at start-up, not on the first citizen. Applying it never puts an agency value in an error
message: those values are personal data. The file format is documented in `mappings/README.md`.
"""

from __future__ import annotations

import functools
import importlib.resources
import inspect
import re
import types
from collections import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from identity.model import facet_model
from mappings.transforms import ARG_CHECKS, TRANSFORMS, TransformError


class MappingError(ValueError):
    """A mapping file that is wrong (at load), or an agency value it cannot convert (at apply; value not shown)."""


_MISSING: Any = object()
_SPEC_KEYS = {"from", "transform", "default", "each", "const"}
_TOP_KEYS = {"agency", "facet", "description", "fields"}
_NAME = re.compile(r"[a-z0-9_]+")
_SEGMENT = re.compile(r"([^\[\]]*)((?:\[-?[0-9]+\])*)")


# --- source paths -----------------------------------------------------------------------------------------------


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
                    raise _ShapeError(f"a list where {self.text!r} expects an object")
                index = int(segment)
                current = current[index] if -len(current) <= index < len(current) else None
            else:
                raise _ShapeError(f"a {type(current).__name__} where {self.text!r} expects an object or list")
        return current


class _ShapeError(Exception):
    """The agency reply does not have the shape a source path expects (its format changed)."""


# --- compiled mapping -------------------------------------------------------------------------------------------


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
    default: Any = _MISSING
    const: Any = _MISSING
    each: Plan | Rule | None = None  # list items: a Plan for model items, a Rule for plain values


@dataclass(frozen=True, eq=False)
class Plan:
    """The rules that build one model's input dict, plus nested models that must exist even when empty."""

    model: type[BaseModel]
    rules: tuple[Rule, ...]
    required_nested: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, eq=False)
class Mapping:
    """A loaded, checked mapping of one agency's fields onto one canonical facet model."""

    agency: str
    facet: str
    model: type[BaseModel]
    origin: str  # the file, for messages
    plan: Plan
    sources: frozenset[str]  # agency fields read; list items as "<list>[].<field>"
    description: str | None = None

    def apply(self, fields: abc.Mapping[str, Any]) -> BaseModel:
        """Map one agency record onto the facet model; MappingError (naming fields, not values) if impossible."""
        if not isinstance(fields, abc.Mapping):
            raise MappingError(f"{self.origin}: expected the agency fields as an object, got {type(fields).__name__}")
        data = _build(self.plan, fields, self.origin, "", "")
        try:
            return self.model.model_validate(data)
        except ValidationError as exc:
            raise MappingError(f"{self.origin}: {_describe(exc, self.plan)}") from None


# --- loading ----------------------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that rejects a key given twice (PyYAML silently keeps the last one: a mapped field would vanish)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


@functools.cache
def load_mapping(name: str) -> Mapping:
    """The mapping `mappings/<name>.yaml` shipped with Gerbang (read via importlib.resources), loaded once."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise MappingError(f"not a mapping name: {name!r} (lower-case letters, digits, underscores)")
    resource = importlib.resources.files("mappings").joinpath(f"{name}.yaml")
    if not resource.is_file():
        raise MappingError(f"no mapping named {name!r} (mappings/{name}.yaml)")
    return parse_mapping(resource.read_text(encoding="utf-8"), origin=f"mappings/{name}.yaml")


def load_mapping_file(path: str | Path) -> Mapping:
    """A mapping from any file, e.g. one shipped by an out-of-tree connector (not cached)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"{path}: cannot read mapping file ({exc.strerror})") from None
    return parse_mapping(text, origin=str(path))


def plugin_mapping(plugin: Any, chosen: str | None = None) -> Mapping:
    """A connector plug-in's mapping: `chosen` if the deployment names one (the `mapping` setting: a name in
    `mappings/` or a file path; e.g. another province's Samsat reply shape), else the file it ships (`mapping_path`,
    for connectors packaged on their own, which cannot add files to `mappings/`), else `mappings/<mapping>.yaml`.
    A chosen mapping must fill the plug-in's facet."""
    if chosen is not None and str(chosen).strip():
        text = str(chosen).strip()
        mapping = load_mapping(text) if _NAME.fullmatch(text) else load_mapping_file(text)
        if mapping.facet != plugin.facet:
            raise MappingError(f"{mapping.origin} fills facet {mapping.facet!r}, {plugin.name} fills {plugin.facet!r}")
        return mapping
    path = getattr(plugin, "mapping_path", None)
    return load_mapping_file(path) if path else load_mapping(plugin.mapping)


def parse_mapping(text: str, origin: str = "<mapping>") -> Mapping:
    """Parse and check mapping YAML text; `origin` names it in errors."""
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise MappingError(f"{origin}: invalid YAML{where}: {problem}") from None
    return build_mapping(document, origin)


def build_mapping(document: Any, origin: str = "<mapping>") -> Mapping:
    """Check an already-parsed mapping document and compile it."""
    if not isinstance(document, dict):
        raise MappingError(f"{origin}: a mapping file must be an object with agency, facet and fields")
    unknown = set(document) - _TOP_KEYS
    if unknown:
        raise MappingError(f"{origin}: unknown top-level key(s): {', '.join(sorted(map(str, unknown)))}")
    for key in ("agency", "facet"):
        if not isinstance(document.get(key), str) or not document[key].strip():
            raise MappingError(f"{origin}: '{key}' is required and must be text")
    description = document.get("description")
    if description is not None and not isinstance(description, str):
        raise MappingError(f"{origin}: 'description' must be text")
    try:
        model = facet_model(document["facet"])
    except KeyError as exc:
        raise MappingError(f"{origin}: {exc.args[0]}") from None
    fields = document.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise MappingError(f"{origin}: 'fields' is required and must map canonical fields to source specs")
    plan = _compile_fields(fields, model, origin, "")
    return Mapping(
        agency=document["agency"].strip(),
        facet=document["facet"],
        model=model,
        origin=origin,
        plan=plan,
        sources=frozenset(_sources(plan, "")),
        description=description,
    )


# --- checking against the model ---------------------------------------------------------------------------------


def _unwrap(annotation: Any) -> Any:
    """Strip `Optional[...]`/`X | None` and `Annotated[...]` to reach the type that matters."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _model_class(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _list_item(annotation: Any) -> Any:
    """The element type of a list-like annotation, or _MISSING when it is not a list."""
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if origin in (list, set, frozenset, abc.Sequence, abc.Set, abc.MutableSequence):
        args = get_args(annotation)
        return args[0] if args else Any
    if origin is tuple:
        args = get_args(annotation)
        return args[0] if len(args) == 2 and args[1] is Ellipsis else _MISSING
    return _MISSING


def _resolve_target(model: type[BaseModel], key: str, origin: str, label: str) -> tuple[Any, list[tuple[str, ...]]]:
    """Check a dotted canonical field against the model; its annotation and the required nested models on the way."""
    parts = key.split(".")
    if any(not p for p in parts):
        raise MappingError(f"{origin}: malformed canonical field {label!r}")
    current = model
    required: list[tuple[str, ...]] = []
    for depth, part in enumerate(parts):
        info = current.model_fields.get(part)
        if info is None:
            raise MappingError(
                f"{origin}: unknown canonical field {label!r} ({current.__name__} has no field {part!r})"
            )
        if depth == len(parts) - 1:
            return info.annotation, required
        nested = _model_class(info.annotation)
        if nested is None:
            kind = "a list (use 'each')" if _list_item(info.annotation) is not _MISSING else "not a nested model"
            raise MappingError(f"{origin}: canonical field {label!r}: {'.'.join(parts[: depth + 1])!r} is {kind}")
        if info.is_required():
            required.append(tuple(parts[: depth + 1]))
        current = nested
    raise AssertionError("unreachable")  # pragma: no cover


def _compile_fields(fields: dict[Any, Any], model: type[BaseModel], origin: str, prefix: str) -> Plan:
    """Compile a `fields:` (or model `each:`) block against a model; `prefix` qualifies labels in messages."""
    rules: list[Rule] = []
    required: set[tuple[str, ...]] = set()
    for key, spec in fields.items():
        label = f"{prefix}{key}"
        if not isinstance(key, str):
            raise MappingError(f"{origin}: canonical field names must be text, got {key!r}")
        annotation, needed = _resolve_target(model, key, origin, label)
        required.update(needed)
        rules.append(_compile_rule(spec, tuple(key.split(".")), annotation, origin, label))
    targets = sorted(r.target for r in rules)
    for shorter, longer in zip(targets, targets[1:], strict=False):
        if longer[: len(shorter)] == shorter:
            raise MappingError(
                f"{origin}: canonical field {prefix + '.'.join(shorter)!r} is mapped both whole and field by field"
            )
    return Plan(model=model, rules=tuple(rules), required_nested=tuple(sorted(required, key=len)))


def _compile_rule(
    spec: Any, target: tuple[str, ...], annotation: Any, origin: str, label: str, element: bool = False
) -> Rule:
    """Compile one source spec; `element` is a scalar `each` spec, whose `from` is optional (the element itself)."""
    if isinstance(spec, str):
        spec = {"from": spec}
    if not isinstance(spec, dict) or not spec:
        raise MappingError(f"{origin}: canonical field {label!r}: a source spec must be a source path or an object")
    unknown = set(spec) - _SPEC_KEYS
    if unknown:
        raise MappingError(
            f"{origin}: canonical field {label!r}: unknown spec key(s) {', '.join(sorted(map(str, unknown)))} "
            f"(allowed: {', '.join(sorted(_SPEC_KEYS))})"
        )
    if "const" in spec:
        if len(spec) != 1:
            raise MappingError(f"{origin}: canonical field {label!r}: 'const' cannot be combined with other keys")
        _check_value(spec["const"], annotation, origin, label, "const")
        return Rule(target, label, (), False, const=spec["const"])
    if "from" not in spec and not element:
        raise MappingError(f"{origin}: canonical field {label!r}: 'from' (or 'const') is required")
    sources, multi = _compile_sources(spec.get("from"), origin, label)
    steps = _compile_steps(spec.get("transform"), origin, label)
    default = spec.get("default", _MISSING)
    if default is not _MISSING and default is not None:
        _check_value(default, annotation, origin, label, "default")
    each: Plan | Rule | None = None
    if "each" in spec:
        if element:
            raise MappingError(f"{origin}: canonical field {label!r}: 'each' inside a plain-value 'each'")
        if steps or multi:
            raise MappingError(f"{origin}: canonical field {label!r}: 'each' needs one 'from' and no 'transform'")
        item = _list_item(annotation)
        if item is _MISSING:
            raise MappingError(f"{origin}: canonical field {label!r}: 'each' on a field that is not a list")
        item_model = _model_class(item)
        if item_model is not None:
            if not isinstance(spec["each"], dict) or not spec["each"]:
                raise MappingError(f"{origin}: canonical field {label!r}: 'each' must map the item's fields")
            each = _compile_fields(spec["each"], item_model, origin, f"{label}[].")
        else:
            each = _compile_rule(spec["each"], (), item, origin, f"{label}[]", element=True)
    return Rule(target, label, sources, multi, tuple(steps), default, _MISSING, each)


def _compile_sources(raw: Any, origin: str, label: str) -> tuple[tuple[SourcePath, ...], bool]:
    if raw is None:
        return (), False
    paths = raw if isinstance(raw, list) else [raw]
    if not paths or not all(isinstance(p, str) and p.strip() for p in paths):
        raise MappingError(f"{origin}: canonical field {label!r}: 'from' must be a source path or a list of them")
    try:
        return tuple(SourcePath.parse(p.strip()) for p in paths), isinstance(raw, list)
    except ValueError as exc:
        raise MappingError(f"{origin}: canonical field {label!r}: {exc}") from None


def _compile_steps(raw: Any, origin: str, label: str) -> list[Step]:
    """`name`, `{name: args}` or a list of them; arguments are checked against the function now, not per value."""
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    steps = []
    for item in items:
        if isinstance(item, str):
            name, arg = item, _MISSING
        elif isinstance(item, dict) and len(item) == 1:
            [(name, arg)] = item.items()
        else:
            raise MappingError(
                f"{origin}: canonical field {label!r}: a transform is a name or {{name: arguments}}; "
                "use a list for several"
            )
        fn = TRANSFORMS.get(name) if isinstance(name, str) else None
        if fn is None:
            raise MappingError(f"{origin}: canonical field {label!r}: unknown transform {name!r}")
        args: tuple[Any, ...]
        kwargs: dict[str, Any]
        if arg is _MISSING or arg is None:
            args, kwargs = (), {}
        elif isinstance(arg, dict):
            args, kwargs = (), {str(k): v for k, v in arg.items()}
        else:
            args, kwargs = (arg,), {}
        try:
            inspect.signature(fn).bind(None, *args, **kwargs)
            check = ARG_CHECKS.get(name)
            if check is not None:
                check(*args, **kwargs)
        except (TypeError, TransformError) as exc:
            reason = str(exc).removeprefix(f"{name}: ")
            raise MappingError(
                f"{origin}: canonical field {label!r}: bad arguments for transform {name!r}: {reason}"
            ) from None
        steps.append(Step(name, fn, args, kwargs))
    return steps


def _check_value(value: Any, annotation: Any, origin: str, label: str, key: str) -> None:
    """A `default` or `const` from the file must be a valid value of the canonical field."""
    try:
        TypeAdapter(annotation).validate_python(value)
    except ValidationError as exc:
        reason = exc.errors(include_url=False, include_input=False)[0]["msg"]
        raise MappingError(f"{origin}: canonical field {label!r}: '{key}' is not a valid value ({reason})") from None


def _sources(plan: Plan, prefix: str) -> list[str]:
    out: list[str] = []
    for rule in plan.rules:
        paths = [f"{prefix}{p.text}" for p in rule.sources]
        out.extend(paths)
        if isinstance(rule.each, Plan):
            out.extend(_sources(rule.each, f"{paths[0]}[]."))
        elif isinstance(rule.each, Rule):
            out.extend(f"{paths[0]}[].{p.text}" for p in rule.each.sources)
    return out


# --- applying ---------------------------------------------------------------------------------------------------


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _build(plan: Plan, data: abc.Mapping[str, Any], origin: str, label_at: str, source_at: str) -> dict[str, Any]:
    """The model input dict for one object; null values are left out so the model's defaults apply."""
    out: dict[str, Any] = {}
    for nested in plan.required_nested:
        _put(out, nested, None)
    for rule in plan.rules:
        label = f"{label_at}{'.'.join(rule.target)}"
        value = _evaluate(rule, data, origin, label, _source_text(rule, source_at))
        if value is not None:
            _put(out, rule.target, value)
    return out


def _source_text(rule: Rule, source_at: str) -> str:
    """The source field(s) of a rule as shown in messages, e.g. "data.kendaraan[2].nopol"."""
    if rule.const is not _MISSING:
        return "(constant)"
    if not rule.sources:
        return source_at.rstrip(".") or "(the element)"
    return ", ".join(f"{source_at}{p.text}" for p in rule.sources)


def _put(out: dict[str, Any], target: tuple[str, ...], value: Any) -> None:
    """Set a dotted target; `value` None only creates the nested dicts on the way (required nested models)."""
    node = out
    for part in target[:-1] if value is not None else target:
        node = node.setdefault(part, {})
    if value is not None:
        node[target[-1]] = value


def _evaluate(rule: Rule, data: Any, origin: str, label: str, source: str) -> Any:
    """One canonical value: read, transform, default. `label`/`source` name the fields in messages."""
    if rule.const is not _MISSING:
        return rule.const
    try:
        if not rule.sources:
            value = _blank_to_none(data)
        elif rule.multi:
            values = [_blank_to_none(p.read(data)) for p in rule.sources]
            value = None if all(v is None for v in values) else values
        else:
            value = _blank_to_none(rule.sources[0].read(data))
    except _ShapeError as exc:
        raise MappingError(f"{origin}: canonical field {label!r} (source {source!r}): {exc}") from None
    if rule.each is not None and value is not None:
        value = _each(rule, value, origin, label, source)
    for step in rule.steps:
        if value is None:
            break
        try:
            value = _blank_to_none(step.fn(value, *step.args, **step.kwargs))
        except TransformError as exc:  # by contract its message does not contain the value
            raise MappingError(f"{origin}: canonical field {label!r} (source {source!r}): {exc}") from None
        except (ValueError, TypeError, ArithmeticError) as exc:  # a foreign transform: its message may hold the value
            raise MappingError(
                f"{origin}: canonical field {label!r} (source {source!r}): transform {step.name!r} failed "
                f"({type(exc).__name__})"
            ) from None
    if value is None and rule.default is not _MISSING:
        return rule.default
    return value


def _each(rule: Rule, value: Any, origin: str, label: str, source: str) -> list[Any]:
    """Map every element of a source list (model items via a Plan, plain values via a Rule); nulls are skipped."""
    if not isinstance(value, list | tuple):
        raise MappingError(
            f"{origin}: canonical field {label!r} (source {source!r}): expected a list, got {type(value).__name__}"
        )
    items = []
    for index, element in enumerate(value):
        if element is None:
            continue
        if isinstance(rule.each, Plan):
            if not isinstance(element, abc.Mapping):
                raise MappingError(
                    f"{origin}: canonical field {label}[{index}] (source {source}[{index}]): "
                    f"expected an object, got {type(element).__name__}"
                )
            items.append(_build(rule.each, element, origin, f"{label}[{index}].", f"{source}[{index}]."))
        else:
            assert isinstance(rule.each, Rule)
            item = _evaluate(
                rule.each, element, origin, f"{label}[{index}]", _source_text(rule.each, f"{source}[{index}].")
            )
            if item is not None:
                items.append(item)
    return items


def _describe(exc: ValidationError, plan: Plan) -> str:
    """Pydantic's complaints, told in canonical and source field names, without the rejected values."""
    labels = _source_labels(plan, "", "")
    lines = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = error["loc"]
        shown = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        generic = "".join("[]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        source = None
        while generic and source is None:
            source = labels.get(generic)
            generic = generic.rpartition(".")[0]
        for index in (p for p in loc if isinstance(p, int)):
            source = source.replace("[]", f"[{index}]", 1) if source else source
        if error["type"] == "missing":
            reason = "required, but the agency gave no value"
        elif error["type"] in _OPAQUE_ERRORS:  # a model's own validator wrote it: it may quote the value
            reason = "rejected by a validator of the model"
        else:
            reason = error["msg"]
        lines.append(f"canonical field {shown!r} (source {source or 'not mapped'!r}): {reason}")
    return "; ".join(lines)


_OPAQUE_ERRORS = {"value_error", "assertion_error"}


def _source_labels(plan: Plan, label_at: str, source_at: str) -> dict[str, str]:
    """Canonical label ("vehicles[].plate") → source label ("data.kendaraan[].nopol")."""
    out: dict[str, str] = {}
    for rule in plan.rules:
        label = f"{label_at}{'.'.join(rule.target)}"
        source = _source_text(rule, source_at)
        out[label] = source
        if isinstance(rule.each, Plan):
            out.update(_source_labels(rule.each, f"{label}[].", f"{source}[]."))
        elif isinstance(rule.each, Rule):
            out[f"{label}[]"] = _source_text(rule.each, f"{source}[].")
    return out
