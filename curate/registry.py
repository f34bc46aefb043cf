"""Which stage class a config key names: a built-in stage (``langid``), or any importable stage
class by its import path (``my_pkg.filters:MyFilter``), checked as strictly as a built-in.

The module is imported by the driver when the config is checked, and again by every Ray worker
when it unpickles the pipeline, so it must be importable everywhere the run goes.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from typing import Any

import pyarrow as pa

from curate.config_schema import ConfigError, describe
from curate.stage import Stage
from stages import STAGES

IMPORT_PATH_FORM = "module.path:ClassName"
_IMPORTABLE = "the driver and every Ray worker must import it: install its package or put its folder on PYTHONPATH"


def stage_key_hint() -> str:
    """What a stage key may be, for error messages."""
    return f"known stages: {', '.join(STAGES)}; or a stage class by import path, {IMPORT_PATH_FORM}"


def resolve_stage(key: Any, where: str) -> type[Stage]:
    """The Stage class config key ``key`` names: built-in names first, then ``module:Class``.
    Raises ConfigError at ``where`` (``stages[i]``) when the key names no usable stage class."""
    if isinstance(key, str) and key in STAGES:
        return STAGES[key]
    if not isinstance(key, str) or ":" not in key:
        raise ConfigError(where, f"unknown stage {describe(key)} ({stage_key_hint()})")
    module_name, _, qualname = key.partition(":")
    if not module_name or not qualname:
        raise ConfigError(where, f"stage {describe(key)}: expected an import path, {IMPORT_PATH_FORM}")
    try:
        stage_class = _import(module_name, qualname)
        check_stage_class(stage_class)
    except ValueError as error:
        raise ConfigError(where, f"stage {describe(key)}: {error}") from error
    return stage_class


def _import(module_name: str, qualname: str) -> Any:
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import module {module_name!r}: {error} ({_IMPORTABLE})") from error
    except Exception as error:  # the module itself is broken: a SyntaxError, a bad stage declaration
        raise ValueError(f"importing module {module_name!r} failed: {type(error).__name__}: {error}") from error
    found = module
    for part in qualname.split("."):  # a nested class: module:Outer.Inner
        if not hasattr(found, part):
            raise ValueError(f"module {module_name!r} has no attribute {qualname!r}")
        found = getattr(found, part)
    return found


def check_stage_class(stage_class: Any) -> None:
    """What the engine relies on in a stage class that does not come with curate; ValueError if not."""
    if not (isinstance(stage_class, type) and issubclass(stage_class, Stage)):
        raise ValueError(f"{stage_class!r} is not a subclass of curate.stage.Stage")
    title = stage_class.__name__
    if inspect.isabstract(stage_class):
        missing = ", ".join(sorted(stage_class.__abstractmethods__))
        raise ValueError(f"{title} is abstract (it does not define {missing})")
    name = getattr(stage_class, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"{title}.name must be a name such as 'my_filter', got {name!r}")
    if name in STAGES and STAGES[name] is not stage_class:
        raise ValueError(f"its name {name!r} is the name of a built-in stage; choose another")
    config_class = getattr(stage_class, "config_class", None)
    if not (isinstance(config_class, type) and dataclasses.is_dataclass(config_class)):
        raise ValueError(f"{title}.config_class must be a dataclass, got {config_class!r}")
    reads, writes = stage_class.reads, stage_class.writes
    if not isinstance(reads, (tuple, list)) or not all(isinstance(column, str) for column in reads):
        raise ValueError(f"{title}.reads must be a tuple of column names, got {reads!r}")
    if not isinstance(writes, (tuple, list)) or not all(isinstance(column, pa.Field) for column in writes):
        raise ValueError(f"{title}.writes must be a tuple of pyarrow fields, got {writes!r}")
