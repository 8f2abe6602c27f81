"""Applying a compiled plan to one agency record: read, transform, default, then the model validates.

Why so careful with messages: agency values are personal data, so an error names the canonical and source fields
and the reason, never the value.
"""

from __future__ import annotations

from collections import abc
from typing import Any

from pydantic import ValidationError

from mappings.plan import MISSING, MappingError, Plan, Rule, ShapeError
from mappings.transforms import TransformError


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def build(plan: Plan, data: abc.Mapping[str, Any], origin: str, label_at: str, source_at: str) -> dict[str, Any]:
    """The model input dict for one object; null values are left out so the model's defaults apply."""
    out: dict[str, Any] = {}
    for nested in plan.required_nested:
        _put(out, nested, None)
    for rule in plan.rules:
        value = _evaluate(rule, data, origin, label_at, source_at)
        if value is not None:
            _put(out, rule.target, value)
    return out


def _source_text(rule: Rule, source_at: str) -> str:
    """The source field(s) of a rule as shown in messages, e.g. "data.kendaraan[2].nopol"."""
    if rule.const is not MISSING:
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


def _where(rule: Rule, label_at: str, source_at: str) -> str:
    """The canonical and source fields of a rule, as a message names them (built only for a message: a record's
    every field would pay for it otherwise)."""
    return f"canonical field {label_at + '.'.join(rule.target)!r} (source {_source_text(rule, source_at)!r})"


def _evaluate(rule: Rule, data: Any, origin: str, label_at: str, source_at: str) -> Any:
    """One canonical value: read, transform, default. `label_at`/`source_at` are where the rule's object is, for
    messages (`_where`)."""
    if rule.const is not MISSING:
        return rule.const
    try:
        if not rule.sources:
            value = _blank_to_none(data)
        elif rule.multi:
            values = [_blank_to_none(p.read(data)) for p in rule.sources]
            value = None if all(v is None for v in values) else values
        else:
            value = _blank_to_none(rule.sources[0].read(data))
    except ShapeError as exc:
        raise MappingError(f"{origin}: {_where(rule, label_at, source_at)}: {exc}") from None
    if rule.each is not None and value is not None:
        value = _each(rule, value, origin, label_at, source_at)
    for step in rule.steps:
        if value is None:
            break
        try:
            value = _blank_to_none(step.fn(value, *step.args, **step.kwargs))
        except TransformError as exc:  # by contract its message does not contain the value
            raise MappingError(f"{origin}: {_where(rule, label_at, source_at)}: {exc}") from None
        except (ValueError, TypeError, ArithmeticError) as exc:  # a foreign transform: its message may hold the value
            raise MappingError(
                f"{origin}: {_where(rule, label_at, source_at)}: transform {step.name!r} failed ({type(exc).__name__})"
            ) from None
    if value is None and rule.default is not MISSING:
        return rule.default
    return value


def _each(rule: Rule, value: Any, origin: str, label_at: str, source_at: str) -> list[Any]:
    """Map every element of a source list (model items via a Plan, plain values via a Rule); nulls are skipped."""
    label, source = label_at + ".".join(rule.target), _source_text(rule, source_at)
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
            items.append(build(rule.each, element, origin, f"{label}[{index}].", f"{source}[{index}]."))
        else:
            assert isinstance(rule.each, Rule)
            item = _evaluate(rule.each, element, origin, f"{label}[{index}]", f"{source}[{index}].")
            if item is not None:
                items.append(item)
    return items


def describe(exc: ValidationError, plan: Plan) -> str:
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
