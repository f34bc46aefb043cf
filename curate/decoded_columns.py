"""Python values of Arrow string columns, decoded once per process and shared by the stages that follow.

The quality stages read the same ``text`` column one after another, and
``to_pylist`` of a batch of 5 KB pages costs ~25 µs per page each time: six
stages spent ~0.15 ms per page just decoding. ``column_values`` remembers the
list it decoded; ``Stage.apply`` remembers the lists stages write and carries
remembered lists through its row filter, so a column is decoded once per batch.

An entry is keyed by its array's buffer addresses, offset and length, and holds
the array itself, so those buffers cannot be freed and reused by another array
while the entry lives. The lists are shared: callers must not modify them.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Any

import pyarrow as pa

_ENTRIES: OrderedDict[tuple, tuple[pa.Array, list]] = OrderedDict()
# A few batches' worth of columns (text and lang, before and after filtering).
_MAX_ENTRIES = 16


def _key(array: pa.Array) -> tuple:
    return (str(array.type), array.offset, len(array), *(b.address if b is not None else 0 for b in array.buffers()))


def _shareable(array: pa.Array) -> bool:
    return pa.types.is_string(array.type) or pa.types.is_large_string(array.type)


def remember(array: pa.Array, values: list[Any]) -> None:
    """Record ``values`` as the Python values of ``array`` (a string column)."""
    if not _shareable(array) or len(values) != len(array):
        return
    key = _key(array)
    _ENTRIES[key] = (array, values)
    _ENTRIES.move_to_end(key)
    while len(_ENTRIES) > _MAX_ENTRIES:
        _ENTRIES.popitem(last=False)


def remembered(array: pa.Array) -> list[Any] | None:
    if not _shareable(array):
        return None
    entry = _ENTRIES.get(_key(array))
    return entry[1] if entry is not None else None


def column_values(batch: pa.RecordBatch, name: str) -> list[Any]:
    """``batch.column(name).to_pylist()``, decoded at most once per process."""
    array = batch.column(name)
    values = remembered(array)
    if values is None:
        values = array.to_pylist()
        remember(array, values)
    return values


def filter_batch(batch: pa.RecordBatch, keep: list[bool]) -> pa.RecordBatch:
    """``batch`` without the rows where ``keep`` is False, carrying remembered values along."""
    filtered = batch.filter(pa.array(keep, type=pa.bool_()))
    for index, array in enumerate(batch.columns):
        values = remembered(array)
        if values is not None:
            remember(filtered.column(index), list(itertools.compress(values, keep)))
    return filtered


def forget_all() -> None:
    _ENTRIES.clear()
