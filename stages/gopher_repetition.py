"""Gopher repetition rules (Rae et al. 2021, as in datatrove), on jieba words for Chinese.

Lines are split on newlines, paragraphs on blank lines. n-grams are built from
words (jieba words for zh/ja, whitespace tokens otherwise; punctuation tokens
left out) and measured in characters of the n-gram joined without spaces, over
the document's length in characters, as datatrove does; the counting runs in C
(``stages/_text_kernels.c``) with datatrove's exact semantics.

Drops (``quality.gopher_*``, each with the measured value):
- ``gopher_dup_lines`` / ``gopher_dup_line_chars``: share of lines that repeat
  an earlier line, and their share of the characters;
- ``gopher_dup_paragraphs`` / ``gopher_dup_paragraph_chars``: the same for paragraphs;
- ``gopher_top_<n>gram`` (n = 2, 3, 4): characters covered by the most frequent n-gram;
- ``gopher_dup_<n>gram`` (n = 5 ... 10): characters covered by n-grams seen before.

Such pages are templated spam, keyword stuffing and scraped comment floods.
Adds the ``quality_repetition`` struct column. Every default is calibrated on
labelled Chinese text of many genres (``benchmarks/calibrate_quality.py``; see
``configs/zh_web.yaml``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from curate.config_schema import ConfigError, bounds
from curate.stage import SignalFilter, Threshold
from stages._text_kernels import repetition_chars
from stages.text_profile import profile

TOP_NGRAM_SIZES = (2, 3, 4)
FINEWEB2_TOP_NGRAMS = (0.256, 0.201, 0.171)
FINEWEB2_DUP_NGRAMS = (0.198, 0.182, 0.167, 0.154, 0.140, 0.127)
"""FineWeb-2's cmn_Hani limits for the top 2-4-gram and the duplicated 5-10-gram shares."""
CALIBRATED_DUP_NGRAMS = (0.397, 0.391, 0.39, 0.384, 0.379, 0.377)
CALIBRATED_TOP_NGRAMS = (0.256, 0.234, 0.26)
DUP_NGRAM_SIZES = range(5, 11)
_PARAGRAPH_BREAK = re.compile(r"\n{2,}")


@dataclass
class GopherRepetitionConfig:
    max_dup_lines: float = field(default=0.538, metadata=bounds(0, 1))
    """Calibrated (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good
    documents fail it; set by technical. Published: FineWeb-2 cmn_Hani 0.287."""
    max_dup_line_chars: float = field(default=0.409, metadata=bounds(0, 1))
    """Calibrated (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good
    documents fail it; set by technical. Published: Gopher 0.2."""
    max_dup_paragraphs: float = field(default=0.3, metadata=bounds(0, 1))
    """Published (Gopher 0.3); calibration keeps it: no genre of the dev data needs more."""
    max_dup_paragraph_chars: float = field(default=0.2, metadata=bounds(0, 1))
    """Published (Gopher 0.2); calibration keeps it: no genre of the dev data needs more."""
    top_ngrams: list[float] = field(default_factory=lambda: list(CALIBRATED_TOP_NGRAMS))
    """Maximum share of the top 2-, 3- and 4-gram. Calibrated (``benchmarks/calibrate_quality.py``),
    never stricter than FineWeb-2 cmn_Hani's 0.256, 0.201, 0.171."""
    dup_ngrams: list[float] = field(default_factory=lambda: list(CALIBRATED_DUP_NGRAMS))
    """Maximum share of duplicated 5- to 10-grams. Calibrated (``benchmarks/calibrate_quality.py``):
    forum quotes and statutes repeat passages; FineWeb-2 cmn_Hani: 0.198 0.182 0.167 0.154 0.140 0.127."""
    segmenter: Literal["rjieba", "jieba"] = "rjieba"

    def check(self, path: str) -> None:
        for key, values, sizes in (
            ("top_ngrams", self.top_ngrams, TOP_NGRAM_SIZES),
            ("dup_ngrams", self.dup_ngrams, DUP_NGRAM_SIZES),
        ):
            if len(values) != len(sizes):
                raise ConfigError(
                    f"{path}.{key}",
                    f"expected {len(sizes)} shares (for n = {', '.join(map(str, sizes))}), got {len(values)}",
                )
            for i, value in enumerate(values):
                if not 0 <= value <= 1:
                    raise ConfigError(f"{path}.{key}[{i}]", f"expected a number in [0, 1], got {value!r}")


def duplicates(items: list[str]) -> tuple[int, int]:
    """How many items repeat an earlier one, and their characters."""
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


class GopherRepetition(SignalFilter):
    name = "gopher_repetition"
    config_class = GopherRepetitionConfig
    signal_column = "quality_repetition"
    reason_prefix = "quality.gopher_"
    writes = (
        pa.field(
            "quality_repetition",
            pa.struct(
                [
                    pa.field(n, pa.float32())
                    for n in ("dup_lines", "dup_line_chars", "dup_paragraphs", "dup_paragraph_chars")
                ]
                + [pa.field(f"top_{n}gram", pa.float32()) for n in TOP_NGRAM_SIZES]
                + [pa.field(f"dup_{n}gram", pa.float32()) for n in DUP_NGRAM_SIZES]
            ),
        ),
    )

    thresholds = (
        Threshold("quality.gopher_dup_lines", "dup_lines", "max_dup_lines", "max", published=0.287),
        Threshold("quality.gopher_dup_line_chars", "dup_line_chars", "max_dup_line_chars", "max", published=0.2),
        Threshold("quality.gopher_dup_paragraphs", "dup_paragraphs", "max_dup_paragraphs", "max", published=0.3),
        Threshold(
            "quality.gopher_dup_paragraph_chars",
            "dup_paragraph_chars",
            "max_dup_paragraph_chars",
            "max",
            published=0.2,
        ),
        *(
            Threshold(
                f"quality.gopher_top_{n}gram",
                f"top_{n}gram",
                ("top_ngrams", i),
                "max",
                published=FINEWEB2_TOP_NGRAMS[i],
            )
            for i, n in enumerate(TOP_NGRAM_SIZES)
        ),
        *(
            Threshold(
                f"quality.gopher_dup_{n}gram",
                f"dup_{n}gram",
                ("dup_ngrams", i),
                "max",
                published=FINEWEB2_DUP_NGRAMS[i],
            )
            for i, n in enumerate(DUP_NGRAM_SIZES)
        ),
    )

    def signals(self, text: str, lang: str | None) -> dict[str, float]:
        length = max(len(text), 1)
        # Line cleaning leaves no blank lines, so most texts are one paragraph: no split needed.
        paragraphs = (
            [p for p in _PARAGRAPH_BREAK.split(text.strip()) if p.strip()]
            if "\n\n" in text
            else [text.strip()]
            if text.strip()
            else []
        )
        text_lines = [line for line in text.split("\n") if line.strip()]
        dup_paragraphs, dup_paragraph_chars = duplicates(paragraphs)
        dup_lines, dup_line_chars = duplicates(text_lines)
        p = profile(text, lang, self.config.segmenter)
        hashes = p.word_hashes[p.content_mask]
        lengths = p.word_lengths[p.content_mask]
        values = {
            "dup_lines": dup_lines / len(text_lines) if text_lines else 0.0,
            "dup_line_chars": dup_line_chars / length,
            "dup_paragraphs": dup_paragraphs / len(paragraphs) if paragraphs else 0.0,
            "dup_paragraph_chars": dup_paragraph_chars / length,
        }
        top_chars, dup_chars = repetition_chars(hashes, lengths, TOP_NGRAM_SIZES, DUP_NGRAM_SIZES)
        for n, chars in zip(TOP_NGRAM_SIZES, top_chars):
            values[f"top_{n}gram"] = chars / length
        for n, chars in zip(DUP_NGRAM_SIZES, dup_chars):
            values[f"dup_{n}gram"] = chars / length
        return values
