""" "Did you mean …?": the known name closest to a misspelt one.

`closest(name, known)` compares names without case and separators first (`image_ref` is
`imageRef`), then by `difflib` similarity. `keys_at(model, loc)` lists the keys the object at a
validation error's location may have: the wire names (aliases) of the model found there, through
nested models, lists, dicts and optional or union types. Used for unknown fields of a request
(`ecsp_contract.problems`), unknown keys of a policy file and unknown `ECSP_*` settings.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

#: How similar (difflib's ratio of the normalised names) a name must be to be suggested.
CUTOFF = 0.7

_SEPARATORS = re.compile(r"[-_:.\s]")


def _normalised(name: str) -> str:
    return _SEPARATORS.sub("", name).lower()


def closest(name: str, known: Iterable[str]) -> str | None:
    """The name in `known` that `name` most likely misspells, or None when none is close."""
    by_form = {_normalised(candidate): candidate for candidate in known}
    form = _normalised(name)
    if form in by_form:
        return by_form[form]
    matches = difflib.get_close_matches(form, list(by_form), n=1, cutoff=CUTOFF)
    return by_form[matches[0]] if matches else None


def keys_at(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys (wire names) an object at `loc` of `model`'s input may have; [] if unknown."""
    found: list[Any] = [model]
    for part in loc:
        inner = [step for kind in found for step in _step(kind, part)]
        if inner or isinstance(part, int):
            found = inner
        # else: a part naming a union member (pydantic puts its tag into the location)
    names: set[str] = set()
    for kind in found:
        for member in _members(kind):
            if isinstance(member, type) and issubclass(member, BaseModel):
                names |= {f.alias or name for name, f in member.model_fields.items()}
    return sorted(names)


def _members(kind: Any) -> list[Any]:
    """`kind` without Annotated, with unions (Optional included) flattened."""
    if typing.get_origin(kind) is typing.Annotated:
        return _members(typing.get_args(kind)[0])
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return [member for arg in typing.get_args(kind) for member in _members(arg)]
    return [kind]


def _step(kind: Any, part: int | str) -> list[Any]:
    """The types one level down from `kind` at key or index `part`."""
    steps: list[Any] = []
    for member in _members(kind):
        origin, args = typing.get_origin(member), typing.get_args(member)
        if isinstance(member, type) and issubclass(member, BaseModel) and isinstance(part, str):
            steps += [
                field.annotation
                for name, field in member.model_fields.items()
                if part in (name, field.alias)
            ]
        elif isinstance(part, int) and origin in (list, tuple, Sequence) and args:
            steps.append(args[0])
        elif isinstance(part, str) and origin in (dict, Mapping) and len(args) == 2:
            steps.append(args[1])
    return steps
