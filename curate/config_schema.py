"""Turn plain YAML data into typed config dataclasses, naming the key path of every error.

Config classes are ordinary dataclasses. A field may carry bounds in its
metadata (``field(metadata=bounds(0, 1))``); everything else comes from the
type hints: ``int``, ``float``, ``bool``, ``str``, ``list[X]``, ``X | None``,
``Literal[...]`` and nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import reprlib
import types
import typing
from typing import Any, Literal, Union

QUOTE_LIMIT = 200
"""Characters of a value an error message quotes: enough to recognise it, and a config value of
a megabyte (or one a YAML alias bomb expanded) does not become a megabyte of error."""
_PATH_LIMIT = 300
_MESSAGE_LIMIT = 2000


class ConfigError(ValueError):
    """A config problem, reported as ``key.path: what is wrong``.

    Path and message are cut to a bounded length: the last guard for messages that quote
    a value without ``describe`` (a stage's own checks, plugins)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = shorten(path, _PATH_LIMIT)
        self.message = shorten(message, _MESSAGE_LIMIT)
        super().__init__(f"{self.path}: {self.message}" if self.path else self.message)


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text``, or its first ``limit`` characters, an ellipsis and how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


# reprlib stops walking a container after a few items and levels, so even a value with
# millions of items costs little to describe.
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = QUOTE_LIMIT
_REPR.maxlevel = 3


def describe(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """A value as an error message quotes it: its repr (escaped: control characters show as
    ``\\n``, ``\\x00``), at most about ``limit`` characters, and its type unless a string."""
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}… ({len(value):,} characters)"
    shown = _REPR.repr(value)
    if len(shown) > limit:
        shown = f"{shown[:limit]}…"
    if isinstance(value, (list, dict)) and len(value) > 1:
        return f"{shown} ({type(value).__name__} of {len(value):,} items)"
    return f"{shown} ({type(value).__name__})"


def key_text(key: Any) -> str:
    """A mapping key as it appears in a key path (cut when long: a key may be any YAML value)."""
    return shorten(str(key), 100)


def bounds(low: float | None = None, high: float | None = None) -> dict[str, Any]:
    """Field metadata for an inclusive numeric range."""
    return {"low": low, "high": high}


def path_field(folders: bool = False) -> dict[str, Any]:
    """Field metadata for a file path (or list of paths): resolved against the config's folder and
    checked to exist; ``folders``: a folder is accepted too (an unpacked list collection)."""
    return {"path": "file_or_folder" if folders else True}


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" in [{low:g}, {high:g}]"
    if low is not None:
        return f" >= {low:g}"
    if high is not None:
        return f" <= {high:g}"
    return ""


def _check_range(path: str, value: float, meta: dict[str, Any], noun: str) -> None:
    low, high = meta.get("low"), meta.get("high")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(path, f"expected {noun}{_range_text(low, high)}, got {describe(value)}")


def convert(path: str, value: Any, hint: Any, meta: dict[str, Any] | None = None) -> Any:
    """Check ``value`` against type ``hint`` and return it converted; raise ConfigError naming ``path``."""
    meta = meta or {}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)

    if origin in (Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if value is None:
            if len(non_none) < len(args):
                return None
            raise ConfigError(path, "a value is required, got null")
        if len(non_none) == 1:
            return convert(path, value, non_none[0], meta)
        errors = []
        for candidate in non_none:
            try:
                return convert(path, value, candidate, meta)
            except ConfigError as error:
                errors.append(error.message)
        raise ConfigError(path, " or ".join(errors))

    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(path, f"expected one of {choices}, got {describe(value)}")
        return value

    if origin is list:
        (item_hint,) = args
        if isinstance(value, (str, bytes)) or not isinstance(value, list):
            raise ConfigError(path, f"expected a list, got {describe(value)}")
        return [convert(f"{path}[{i}]", item, item_hint) for i, item in enumerate(value)]

    if dataclasses.is_dataclass(hint):
        return build(hint, value, path)

    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected true or false, got {describe(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(
                path, f"expected an integer{_range_text(meta.get('low'), meta.get('high'))}, got {describe(value)}"
            )
        _check_range(path, value, meta, "an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(
                path, f"expected a number{_range_text(meta.get('low'), meta.get('high'))}, got {describe(value)}"
            )
        _check_range(path, float(value), meta, "a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(path, f"expected a string, got {describe(value)}")
        return value
    raise TypeError(f"config type {hint!r} at {path} is not supported")


def build(cls: type, data: Any, path: str) -> Any:
    """Build dataclass ``cls`` from mapping ``data``; unknown and missing keys are errors."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, f"expected a mapping, got {describe(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    prefix = f"{path}." if path else ""
    for key in data:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{prefix}{key_text(key)}", f"unknown key (known keys: {known})")
    values = {}
    for name, f in fields.items():
        if name in data:
            values[name] = convert(f"{prefix}{name}", data[name], hints[name], dict(f.metadata))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{prefix}{name}", "required key is missing")
    instance = cls(**values)
    check = getattr(instance, "check", None)
    if check is not None:
        check(path)
    return instance


def to_plain(instance: Any) -> Any:
    """A dataclass tree as plain JSON-able data (the resolved config in the manifest)."""
    if dataclasses.is_dataclass(instance):
        return {f.name: to_plain(getattr(instance, f.name)) for f in dataclasses.fields(instance)}
    if isinstance(instance, list):
        return [to_plain(v) for v in instance]
    return instance
