"""How a protocol message's fields meet JSON: a decoded value checked against the field's
annotation, and optional fields left out of a line while they hold their default. Standard
library only, like engine.serve.protocol, which uses it."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Union

# A field added to a message after version 1 shipped: left out of a line while it holds its
# default, so a client or engine that predates it, which refuses unknown fields, still reads
# every message that does not use it.
_OMIT_AT_DEFAULT = {"omit_at_default": True}

_HINTS: dict[type, dict[str, Any]] = {}


def added_field(default: Any) -> Any:
    """A field added after version 1, with its default: `offset: int = added_field(0)`."""
    return dataclasses.field(default=default, metadata=_OMIT_AT_DEFAULT)


def omitted(f: dataclasses.Field[Any], value: Any) -> bool:
    """Whether `value` of field `f` stays out of the line."""
    return bool(f.metadata.get("omit_at_default")) and value == f.default


def field_hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def coerce(value: Any, hint: Any) -> Any:
    """Check `value` against a field's annotation; JSON lists become tuples."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return coerce(value, option)
            except TypeError:
                pass
        raise TypeError(f"expected {hint}, got {type(value).__name__}")
    if origin is tuple:
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(hint)[:1]
        return tuple(coerce(v, item) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {type(value).__name__}")
        return value
    if hint is Any:
        return value
    if hint is float:
        if type(value) in (int, float):
            return float(value)
        raise TypeError(f"expected a number, got {type(value).__name__}")
    if hint in (int, str, bool):
        if type(value) is not hint:  # bool is an int in Python but not here
            raise TypeError(f"expected {hint.__name__}, got {type(value).__name__}")
        return value
    raise TypeError(f"unsupported field type {hint}")
