"""Readers: one input file in, batches of ``READER_SCHEMA`` out; ``input.format`` picks one."""

from __future__ import annotations

from stages.readers.base import TEXT_FORMATS, InputConfig, ReadError, ReadResult
from stages.readers.jsonl import JsonlReader
from stages.readers.mnbvc import MnbvcReader
from stages.readers.parquet import ParquetReader
from stages.readers.warc import WarcReader
from stages.readers.wudao import WudaoReader

READERS = {
    "warc": WarcReader,
    "wet": WarcReader,
    "jsonl": JsonlReader,
    "parquet": ParquetReader,
    "wudao": WudaoReader,
    "mnbvc": MnbvcReader,
}


def reader_for(config: InputConfig):
    """The reader of ``config.format``."""
    return READERS[config.format](config)


__all__ = ["READERS", "TEXT_FORMATS", "InputConfig", "ReadError", "ReadResult", "reader_for"]
