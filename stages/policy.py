"""Corpus policy: what a pretraining set chooses to leave out, as opposed to what is broken.

A quality rule says a page is bad (navigation, spam, repetition); a policy rule
says a page is fine but not wanted here. They are kept apart so a curator can
switch a policy without touching the quality rules, the manifest counts them
under their own reasons, and the quality rules' false-positive budget is
measured on the documents the policy keeps (``benchmarks/calibrate_quality.py``).

Drops (``policy.*``, each with the measured value):
- ``policy.too_short``: fewer than ``min_chars`` visible characters after line
  cleaning: headlines, one-line answers, captions, fragments. Off with 0.
- ``policy.code``: more than ``max_code_share`` of the characters are in code
  lines (inside Markdown code fences, or lines that read as source code: ending
  in ``;``/``{``/``}``, starting with a keyword such as ``import``/``const``/
  ``def``, a comment marker, or a lone markup tag), i.e. a source file or a
  code listing with a few Chinese comments rather than a technical article with
  examples. Off with 1.

Adds ``quality_policy`` (``chars``, ``code_share``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from curate.config_schema import bounds
from curate.stage import SignalFilter, Threshold
from stages.code_lines import code_share

_WHITESPACE = " \t\n\r\u3000\xa0"


def visible_chars(text: str) -> int:
    """Characters that are not whitespace (the spaces of Chinese and Western text)."""
    return len(text) - sum(map(text.count, _WHITESPACE))


@dataclass
class PolicyConfig:
    min_chars: int = field(default=50, metadata=bounds(0))
    """Policy (ours): under 50 visible characters a page is a headline, a caption or a one-line
    answer. On the labelled dev data this leaves out 12 % of the modern poems, 25 % of the
    DuReader one-line answers and 1 % of Wikipedia stubs (``benchmarks/quality_eval.py``)."""
    max_code_share: float = field(default=0.5, metadata=bounds(0, 1))
    """Policy (ours): a page mostly made of code is a listing, not an article. On the dev data the
    React documentation (MDX with examples) has code shares from 0.08 (10th percentile) to 0.79
    (90th), median 0.54, so half of it stays; 3 of 3,325 other known-good documents exceed 0.5."""


class Policy(SignalFilter):
    name = "policy"
    config_class = PolicyConfig
    signal_column = "quality_policy"
    reason_prefix = "policy."
    writes = (
        pa.field("quality_policy", pa.struct([pa.field("chars", pa.int32()), pa.field("code_share", pa.float32())])),
    )
    thresholds = (
        Threshold("policy.too_short", "chars", "min_chars", "min"),
        Threshold("policy.code", "code_share", "max_code_share", "max"),
    )

    def signals(self, text: str, lang: str | None) -> dict[str, float]:
        return {"chars": visible_chars(text), "code_share": code_share(text)}
