"""Compiling a mapping document into a plan, checked against the facet's model as it goes.

Why at load: a typo in a canonical field, a transform name or a transform's arguments fails at start-up, not on
the first citizen; a `default` or `const` must already be a valid value of its field.
"""

from __future__ import annotations

import inspect
import types
from collections import abc
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from mappings.plan import MISSING, MappingError, Plan, Rule, SourcePath, Step
from mappings.transforms import ARG_CHECKS, TRANSFORMS, TransformError

_SPEC_KEYS = {"from", "transform", "default", "each", "const"}


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
    """The element type of a list-like annotation, or MISSING when it is not a list."""
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if origin in (list, set, frozenset, abc.Sequence, abc.Set, abc.MutableSequence):
        args = get_args(annotation)
        return args[0] if args else Any
    if origin is tuple:
        args = get_args(annotation)
        return args[0] if len(args) == 2 and args[1] is Ellipsis else MISSING
    return MISSING


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
            kind = "a list (use 'each')" if _list_item(info.annotation) is not MISSING else "not a nested model"
            raise MappingError(f"{origin}: canonical field {label!r}: {'.'.join(parts[: depth + 1])!r} is {kind}")
        if info.is_required():
            required.append(tuple(parts[: depth + 1]))
        current = nested
    raise AssertionError("unreachable")  # pragma: no cover


def compile_fields(fields: dict[Any, Any], model: type[BaseModel], origin: str, prefix: str) -> Plan:
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
    default = spec.get("default", MISSING)
    if default is not MISSING and default is not None:
        _check_value(default, annotation, origin, label, "default")
    each: Plan | Rule | None = None
    if "each" in spec:
        if element:
            raise MappingError(f"{origin}: canonical field {label!r}: 'each' inside a plain-value 'each'")
        if steps or multi:
            raise MappingError(f"{origin}: canonical field {label!r}: 'each' needs one 'from' and no 'transform'")
        item = _list_item(annotation)
        if item is MISSING:
            raise MappingError(f"{origin}: canonical field {label!r}: 'each' on a field that is not a list")
        item_model = _model_class(item)
        if item_model is not None:
            if not isinstance(spec["each"], dict) or not spec["each"]:
                raise MappingError(f"{origin}: canonical field {label!r}: 'each' must map the item's fields")
            each = compile_fields(spec["each"], item_model, origin, f"{label}[].")
        else:
            each = _compile_rule(spec["each"], (), item, origin, f"{label}[]", element=True)
    return Rule(target, label, sources, multi, tuple(steps), default, MISSING, each)


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
            name, arg = item, MISSING
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
        if arg is MISSING or arg is None:
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


def sources_of(plan: Plan, prefix: str) -> list[str]:
    out: list[str] = []
    for rule in plan.rules:
        paths = [f"{prefix}{p.text}" for p in rule.sources]
        out.extend(paths)
        if isinstance(rule.each, Plan):
            out.extend(sources_of(rule.each, f"{paths[0]}[]."))
        elif isinstance(rule.each, Rule):
            out.extend(f"{paths[0]}[].{p.text}" for p in rule.each.sources)
    return out
