"""Read MNBVC JSON lines (plain, ``.zst``, ``.gz`` or ``.bz2``, streamed) in its common layouts.

Each line is one record, recognised by its keys:

- file records (通用/平行语料): ``段落`` is a list of paragraphs ``{行号, 内容, ...}``,
  joined by newlines in 行号 order into one document; parallel-corpus paragraphs
  without ``内容`` contribute their ``zh_text``. ``文件名`` becomes ``source_id``;
  the record's other scalar fields (是否重复文件, simhash ...) go to ``metadata``.
  Paragraphs MNBVC marked as repeated are kept: our own deduplication decides.
- question/answer records (问答, 多轮问答): ``问`` and ``答`` kept as text
  ``问：...\\n答：...``; ``id`` becomes ``source_id``, ``来源`` and ``元数据`` go to metadata;
- forum records (论坛): ``主题`` and each reply's ``回复`` joined by newlines.

Drops, each with its line number (reading goes on with the next line):
``read.bad_json`` (not JSON, or nested too deeply), ``read.line_too_large`` (a
line over ``input.max_line_bytes``, passed over unread), ``read.bad_field`` (a
paragraph list that is not a list of objects, a non-string 内容),
``read.missing_text`` (no text in any paragraph), ``read.unknown_layout``
(an object in none of the layouts above), ``read.corrupt_record`` (the line a
corrupt zstd frame or gzip member cut; reading resumes at the next one that
decodes, as for ``jsonl``, whose loop this reader shares) and ``read.truncated``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from stages.readers.base import (
    WHOLE,
    BatchBuilder,
    Document,
    InputConfig,
    MalformedRecord,
    ReadResult,
    Span,
    scalar_field,
)
from stages.readers.jsonl import read_json_lines


def _string(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedRecord("read.bad_field", f"{what} is {type(value).__name__}, expected a string")
    return value


def _metadata(record: dict[str, Any], skip: set[str]) -> str | None:
    kept = {k: v for k, v in record.items() if k not in skip and v is not None}
    return json.dumps(kept, ensure_ascii=False, sort_keys=True, default=str) if kept else None


def _file_record(record: dict[str, Any]) -> Document:
    paragraphs = record["段落"]
    if not isinstance(paragraphs, list) or not all(isinstance(p, dict) for p in paragraphs):
        raise MalformedRecord("read.bad_field", "段落 is not a list of objects")
    numbered = []
    for position, paragraph in enumerate(paragraphs):
        text = paragraph.get("内容")
        text = _string(text if text is not None else paragraph.get("zh_text"), f"段落[{position}].内容")
        number = paragraph.get("行号")
        numbered.append((number if isinstance(number, int) else position, position, text))
    numbered.sort()
    text = "\n".join(t for _, _, t in numbered if t.strip())
    if not text:
        raise MalformedRecord("read.missing_text", "no paragraph has text")
    return text, scalar_field(record, "文件名"), None, _metadata(record, {"段落", "文件名"})


def _qa_record(record: dict[str, Any]) -> Document:
    question, answer = _string(record["问"], "问"), _string(record["答"], "答")
    if not (question.strip() or answer.strip()):
        raise MalformedRecord("read.missing_text", "问 and 答 are empty")
    return f"问：{question}\n答：{answer}", scalar_field(record, "id"), None, _metadata(record, {"问", "答", "id"})


def _forum_record(record: dict[str, Any]) -> Document:
    replies = record["回复"]
    if not isinstance(replies, list) or not all(isinstance(r, dict) for r in replies):
        raise MalformedRecord("read.bad_field", "回复 is not a list of objects")
    parts = [_string(record.get("主题"), "主题")] + [
        _string(r.get("回复"), f"回复[{i}].回复") for i, r in enumerate(replies)
    ]
    text = "\n".join(p for p in parts if p.strip())
    if not text:
        raise MalformedRecord("read.missing_text", "主题 and 回复 are empty")
    return text, scalar_field(record, "ID"), None, _metadata(record, {"主题", "回复", "ID"})


def mnbvc_document(record: object) -> list[Document]:
    """The document of one MNBVC record, by its layout."""
    if not isinstance(record, dict):
        raise MalformedRecord("read.bad_json", f"expected a JSON object, got {type(record).__name__}")
    if "段落" in record:
        return [_file_record(record)]
    if "问" in record and "答" in record:
        return [_qa_record(record)]
    if "回复" in record:
        return [_forum_record(record)]
    keys = ", ".join(list(record)[:8])
    raise MalformedRecord("read.unknown_layout", f"not an MNBVC file, question/answer or forum record (keys: {keys})")


class MnbvcReader:
    def __init__(self, config: InputConfig) -> None:
        self.config = config

    def read(self, path: str, result: ReadResult, span: Span = WHOLE) -> Iterator[pa.RecordBatch]:
        builder = BatchBuilder(path, self.config.batch_size)
        yield from read_json_lines(path, result, builder, mnbvc_document, self.config.max_line_bytes, span)
