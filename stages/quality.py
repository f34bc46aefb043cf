"""First quality gate: enough text, and for CJK documents, enough CJK characters.

Drops:
- ``quality.short_text``: fewer than ``min_chars`` non-whitespace characters.
  Such pages are headlines, error pages and link lists: too short to teach a
  model anything and a common carrier of spam.
- ``quality.low_cjk_ratio``: a Chinese/Japanese/Korean document whose CJK
  characters are under ``min_cjk_ratio`` of its non-whitespace characters,
  typically code, URLs, numbers or Latin boilerplate with a Chinese veneer.

Adds ``quality_chars`` and ``quality_cjk_ratio`` so thresholds can be tuned
from the output without re-running.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from curate.config_schema import bounds
from curate.stage import Reason, Stage
from stages.cjk import CJK

CJK_LANGUAGES = ("zh", "ja", "ko")


@dataclass
class QualityConfig:
    min_chars: int = field(default=200, metadata=bounds(0))
    """Minimum non-whitespace characters in the extracted text."""
    min_cjk_ratio: float = field(default=0.3, metadata=bounds(0, 1))
    """Minimum CJK share of non-whitespace characters, for documents in a CJK language."""


class Quality(Stage):
    name = "quality"
    config_class = QualityConfig
    reads = ("text", "lang")
    writes = (
        pa.field("quality_chars", pa.int32()),
        pa.field("quality_cjk_ratio", pa.float32()),
    )

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[Reason]]:
        texts = batch.column("text").to_pylist()
        langs = batch.column("lang").to_pylist()
        counts: list[int] = []
        ratios: list[float] = []
        reasons: list[Reason] = []
        for text, lang in zip(texts, langs):
            chars = len(text) - sum(text.count(ws) for ws in (" ", "\n", "\t", "\r", "\u3000", "\xa0"))
            ratio = len(CJK.findall(text)) / chars if chars else 0.0
            counts.append(chars)
            ratios.append(ratio)
            if chars < self.config.min_chars:
                reasons.append("quality.short_text")
            elif lang in CJK_LANGUAGES and ratio < self.config.min_cjk_ratio:
                reasons.append("quality.low_cjk_ratio")
            else:
                reasons.append(None)
        return {"quality_chars": counts, "quality_cjk_ratio": ratios}, reasons
