"""Where an input file may be cut into units (``run.unit_max_bytes``): record starts, found and
verified from a byte offset, so that no unit ever starts or ends inside a record.

- WARC and WET files of one gzip member per record (Common Crawl's layout): at a member that
  inflates to a WARC header and that fastwarc reads as a record there;
- plain (uncompressed) JSON Lines and MNBVC files: after a newline;
- plain WuDao files: at an element, ``{"`` after a comma or newline (the reader's own rule
  for resuming after a bad element), verified by parsing it: a JSON object holding the text
  field;
- Parquet files: at a row group.

Everything else is read whole, one unit per file: a compressed JSON input (a document's offset
is its place in the decompressed text, which a member or frame further on cannot know without
inflating everything before it), a WARC file of one gzip member for the whole file, or an
uncompressed WARC file (a ``WARC/1.1`` line can sit inside a payload).

A file is cut into equal parts no larger than the unit size, and the part of it in the run's
tail (``curate.units``) into equal parts of the smaller tail size; each cut is at the first
record start from its target offset, and one not found within ``SEARCH_BYTES`` of its
target is not made. The units' documents, ids, offsets and output are the same whatever the cuts
(``tests/test_unit_ranges.py``).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable
from typing import BinaryIO

import pyarrow.parquet as pq

from curate.storage import open_input, open_random_access
from stages.readers.base import InputConfig
from stages.readers.compressed import is_compressed
from stages.readers.parquet import row_group_start
from stages.readers.warc_records import GZIP_MAGIC, gzip_record_start

SEARCH_BYTES = 16 << 20
"""How far past its target a cut is looked for: past the longest record a unit may hold."""
_ELEMENT = re.compile(rb'[,\n]\s*(\{\s*")')
_VERIFY_BYTES = 1 << 20

Finder = Callable[[BinaryIO, int], "int | None"]


def cut_points(
    config: InputConfig, path: str, size: int, every: int, tail_from: int | None = None, tail_every: int = 0
) -> list[int]:
    """The start of every unit of ``path``: 0, then the first record start at or after each of
    ``cut_targets``; ``[0]`` when the file is small or its format cannot be cut."""
    targets = cut_targets(size, every, tail_from, tail_every)
    if not targets:
        return [0]
    if config.format == "parquet":
        return _row_group_cuts(path, targets)
    finder = _finder(config, path)
    if finder is None:
        return [0]
    starts = [0]
    with open_input(path) as stream:
        for target in targets:
            if target <= starts[-1]:
                continue
            found = finder(stream, target)
            if found is not None and starts[-1] < found < size:
                starts.append(found)
    return starts


def cut_targets(size: int, every: int, tail_from: int | None = None, tail_every: int = 0) -> list[int]:
    """Offsets that cut ``size`` bytes into equal parts of at most ``every`` bytes, the bytes
    from ``tail_from`` on into equal parts of at most ``tail_every``."""
    head = size if tail_from is None else min(size, max(0, tail_from))
    targets = _equal_parts(0, head, every)
    if head < size:
        targets += ([head] if head else []) + _equal_parts(head, size, tail_every)
    return targets


def _equal_parts(start: int, end: int, every: int) -> list[int]:
    parts = -(-(end - start) // every)
    return [start + (end - start) * k // parts for k in range(1, parts)]


def _finder(config: InputConfig, path: str) -> Finder | None:
    if config.format in ("warc", "wet"):
        with open_input(path, 0, len(GZIP_MAGIC)) as head:
            if head.read(len(GZIP_MAGIC)) != GZIP_MAGIC:
                return None
        return lambda stream, target: gzip_record_start(stream, target, SEARCH_BYTES)
    if is_compressed(path):
        return None
    if config.format in ("jsonl", "mnbvc"):
        return _line_start
    if config.format == "wudao":
        field = config.field_names()["text"].split(".")[0]
        return lambda stream, target: _element_start(stream, target, field)
    return None


def _line_start(stream: BinaryIO, target: int) -> int | None:
    """The first line start at or after ``target``."""
    position = target - 1  # a line starting at ``target`` follows a newline just before it
    while position < target + SEARCH_BYTES:
        stream.seek(position)
        window = stream.read(1 << 20)
        if not window:
            return None
        newline = window.find(b"\n")
        if newline >= 0:
            return position + newline + 1
        position += len(window)
    return None


def _element_start(stream: BinaryIO, target: int, text_field: str) -> int | None:
    """The first array element at or after ``target`` that parses as an object with the text
    field (an object nested in an element's list would parse, but would not have it)."""
    position = target - 1
    while position < target + SEARCH_BYTES:
        stream.seek(position)
        window = stream.read(1 << 20)
        found = _ELEMENT.search(window)
        while found is not None:
            start = position + found.start(1)
            if start >= target and _is_element(stream, start, text_field):
                return start
            found = _ELEMENT.search(window, found.start(1))
        if len(window) < 1 << 20:
            return None
        position += len(window) - 16  # a separator may straddle two windows
    return None


def _is_element(stream: BinaryIO, start: int, text_field: str) -> bool:
    stream.seek(start)
    decoder, text = codecs.getincrementaldecoder("utf-8")(errors="replace"), ""
    for _ in range(SEARCH_BYTES // _VERIFY_BYTES):
        chunk = stream.read(_VERIFY_BYTES)
        text += decoder.decode(chunk, final=not chunk)
        try:
            value, _ = json.JSONDecoder().raw_decode(text)
        except json.JSONDecodeError as error:
            if chunk and (error.pos >= len(text) - 8 or error.msg.startswith("Unterminated string")):
                continue  # the element goes on past what was read
            return False
        return isinstance(value, dict) and text_field in value
    return False


def _row_group_cuts(path: str, targets: list[int]) -> list[int]:
    """The first row group starting at or after each target."""
    with open_random_access(path) as handle:
        metadata = pq.ParquetFile(handle).metadata
    groups = [row_group_start(metadata, group) for group in range(1, metadata.num_row_groups)]
    starts = [0]
    for target in targets:
        found = next((offset for offset in groups if offset >= target), None)
        if found is not None and found > starts[-1]:
            starts.append(found)
    return starts
