"""Drops documents shorter than ``min_chars`` characters (``length.too_short``, with the length)."""

from dataclasses import dataclass, field

import pyarrow as pa

from curate.config_schema import bounds
from curate.decoded_columns import column_values
from curate.stage import Drop, Reason, Stage


@dataclass
class LengthFilterConfig:
    min_chars: int = field(default=200, metadata=bounds(0))


class LengthFilter(Stage):
    name = "length_filter"  # the manifest counts its documents, drops and samples under it
    config_class = LengthFilterConfig
    reads = ("text",)
    writes = (pa.field("length_chars", pa.int32()),)

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[Reason]]:
        lengths = [len(text) for text in column_values(batch, "text")]
        reasons = [Drop("length.too_short", n) if n < self.config.min_chars else None for n in lengths]
        return {"length_chars": lengths}, reasons
