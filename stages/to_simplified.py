"""Optional normalisation: convert Traditional Chinese documents to Simplified with OpenCC.

Converts the ``text`` of documents whose ``script`` is ``Hant``; the original
script stays in ``script`` and ``text_converted`` marks the converted rows.
Drops nothing. OpenCC converts phrases, not just characters (e.g. 軟體 → 软件
with ``tw2sp``), so the choice of ``conversion`` matters for Taiwan and Hong
Kong text.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from curate.decoded_columns import column_values
from curate.stage import Reason, Stage


@functools.lru_cache(maxsize=4)
def converter(conversion: str):  # -> opencc.OpenCC
    import opencc

    return opencc.OpenCC(f"{conversion}.json")


@dataclass
class ToSimplifiedConfig:
    conversion: Literal["t2s", "tw2s", "tw2sp", "hk2s"] = "t2s"
    """OpenCC configuration: generic, Taiwan, Taiwan with phrases, Hong Kong."""


class ToSimplified(Stage):
    name = "to_simplified"
    config_class = ToSimplifiedConfig
    reads = ("text", "script")
    writes = (pa.field("text", pa.string()), pa.field("text_converted", pa.bool_()))

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[Reason]]:
        convert = converter(self.config.conversion).convert
        texts = column_values(batch, "text")
        scripts = column_values(batch, "script")
        converted = [script == "Hant" for script in scripts]
        out = [convert(text) if flag else text for text, flag in zip(texts, converted)]
        return {"text": out, "text_converted": converted}, [None] * len(texts)
