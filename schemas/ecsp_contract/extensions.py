"""Forward compatibility: fields Huawei added after this release, let through by the operator.

Owns the syntax of an allowed extra field (`server.new_field`, `server.nics[].new_flag`: dotted
wire names, `[]` for "every item of this list"), its check against the models (the parent must be
a known object, the field itself must be unknown: a typo in the setting fails at start), and the
two halves of letting such a field through: `split_extras` takes the allowed fields out of a
document before the models validate it (so any other unknown field, e.g. a misspelling, is still
refused), and `with_extras` puts them back, unchanged, at the end of their object in the body
sent to the API.
"""

from __future__ import annotations

import copy
import functools
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ecsp_contract.request import CreateServersBody

_SEGMENT = re.compile(r"^(?P<name>[^.\[\]]+)(?P<each>\[\])?$")

Location = tuple[str | int, ...]


@dataclass(frozen=True)
class _Step:
    name: str
    each_item: bool


@dataclass(frozen=True)
class ExtraField:
    """One allowed extra field: the path to its parent object and its wire name."""

    parent: tuple[_Step, ...]
    name: str


class ExtraFieldError(ValueError):
    """An allowed-extra-field path that is malformed or names a field the contract already has."""


@functools.cache
def parse_extra_fields(paths: tuple[str, ...]) -> tuple[ExtraField, ...]:
    """Check each path against the models; raise ExtraFieldError naming the first bad one."""
    return tuple(_parse(path.strip()) for path in paths if path.strip())


def _parse(path: str) -> ExtraField:
    steps: list[_Step] = []
    for segment in path.split("."):
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            raise ExtraFieldError(f"{path!r}: segment {segment!r} is not a field name")
        steps.append(_Step(match["name"], match["each"] is not None))
    *parent, last = steps
    if last.each_item:
        raise ExtraFieldError(f"{path!r}: the last segment names a field, not list items")
    model: type[BaseModel] = CreateServersBody
    for step in parent:
        inner = _field_model(model, step)
        if inner is None:
            raise ExtraFieldError(f"{path!r}: {step.name!r} is not an object of the create body")
        model = inner
    if last.name in _wire_names(model):
        raise ExtraFieldError(f"{path!r}: already part of the create body (nothing to allow)")
    return ExtraField(tuple(parent), last.name)


def _wire_names(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def _field_model(model: type[BaseModel], step: _Step) -> type[BaseModel] | None:
    for name, field in model.model_fields.items():
        if (field.alias or name) == step.name:
            return _model_in(field.annotation, list_wanted=step.each_item)
    return None


def _model_in(annotation: Any, *, list_wanted: bool) -> type[BaseModel] | None:
    """The model class inside `X | None` (or `list[X] | None` when `list_wanted`)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg, list_wanted=list_wanted)
            if found is not None:
                return found
        return None
    if origin is list:
        return _model_in(typing.get_args(annotation)[0], list_wanted=False) if list_wanted else None
    if not list_wanted and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


@dataclass(frozen=True)
class Extras:
    """Allowed extra fields found in one document: where each was and its value."""

    found: tuple[tuple[Location, Any], ...] = ()


def split_extras(document: Any, allowed: tuple[ExtraField, ...]) -> tuple[Any, Extras]:
    """The document without its allowed extra fields (a copy if any), and those fields."""
    if not allowed or not isinstance(document, dict):
        return document, Extras()
    found: list[tuple[Location, Any]] = []
    stripped = copy.deepcopy(document)
    for field in allowed:
        for location, parent in _parents(stripped, field.parent, ()):
            if field.name in parent:
                found.append(((*location, field.name), parent.pop(field.name)))
    return (stripped, Extras(tuple(found))) if found else (document, Extras())


def _parents(
    node: Any, steps: tuple[_Step, ...], location: Location
) -> list[tuple[Location, dict[str, Any]]]:
    if not isinstance(node, dict):
        return []
    if not steps:
        return [(location, node)]
    step, rest = steps[0], steps[1:]
    child = node.get(step.name)
    if not step.each_item:
        return _parents(child, rest, (*location, step.name))
    if not isinstance(child, list):
        return []
    return [
        parent
        for index, item in enumerate(child)
        for parent in _parents(item, rest, (*location, step.name, index))
    ]


def with_extras(wire: dict[str, Any], extras: Extras) -> dict[str, Any]:
    """`wire` with each extra field put back at the end of its object (a copy if any)."""
    if not extras.found:
        return wire
    result = copy.deepcopy(wire)
    for location, value in extras.found:
        parent: Any = result
        for part in location[:-1]:
            parent = parent[part]
        parent[location[-1]] = value
    return result
