"""FineWeb's own line rules (Penedo et al. 2024, as in datatrove), with FineWeb-2 cmn_Hani thresholds.

Drops (``quality.fineweb_*``, each with the measured value):
- ``fineweb_line_punct``: too few lines end in terminal punctuation
  (。！？…；」』” and ASCII forms): menus, tables, keyword lists;
- ``fineweb_short_lines``: too many lines of at most ``short_line_chars`` characters;
- ``fineweb_dup_line_chars``: characters of repeated lines over all characters;
- ``fineweb_newlines_per_word``: more line breaks per word than prose has (lists).

Words are jieba words for zh/ja (punctuation tokens included, as datatrove
counts them), whitespace tokens otherwise. Adds the ``quality_fineweb`` struct column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from curate.config_schema import bounds
from curate.stage import Check, SignalFilter
from stages.gopher_repetition import duplicates
from stages.text_profile import profile
from stages.words import ends_with_terminal_punctuation, lines


@dataclass
class FinewebQualityConfig:
    min_line_punct: float = field(default=0.106, metadata=bounds(0, 1))
    """FineWeb-2 cmn_Hani: 0.106 of lines end in terminal punctuation."""
    max_short_lines: float = field(default=0.67, metadata=bounds(0, 1))
    """FineWeb/datatrove: 0.67."""
    short_line_chars: int = field(default=30, metadata=bounds(1))
    """FineWeb/datatrove: 30 characters (not language-specific)."""
    max_dup_line_chars: float = field(default=0.01, metadata=bounds(0, 1))
    """FineWeb/datatrove: 0.01."""
    max_newlines_per_word: float = field(default=0.178, metadata=bounds(0))
    """FineWeb-2 cmn_Hani: 0.178."""
    segmenter: Literal["rjieba", "jieba"] = "rjieba"


class FinewebQuality(SignalFilter):
    name = "fineweb_quality"
    config_class = FinewebQualityConfig
    signal_column = "quality_fineweb"
    writes = (
        pa.field(
            "quality_fineweb",
            pa.struct([pa.field(n, pa.float32()) for n in ("line_punct", "short_lines", "dup_line_chars", "newlines_per_word")]),
        ),
    )

    def signals(self, text: str, lang: str | None) -> dict[str, float]:
        text_lines = lines(text)
        n_lines = max(len(text_lines), 1)
        _, dup_chars = duplicates(text_lines)
        n_words = max(len(profile(text, lang, self.config.segmenter).word_lengths), 1)
        return {
            "line_punct": sum(map(ends_with_terminal_punctuation, text_lines)) / n_lines,
            "short_lines": sum(len(line) <= self.config.short_line_chars for line in text_lines) / n_lines,
            "dup_line_chars": dup_chars / max(len(text.replace("\n", "")), 1),
            "newlines_per_word": text.count("\n") / n_words,
        }

    def checks(self, s: dict[str, float], lang: str | None) -> tuple[Check, ...]:
        c = self.config
        return (
            ("quality.fineweb_line_punct", s["line_punct"], s["line_punct"] < c.min_line_punct),
            ("quality.fineweb_short_lines", s["short_lines"], s["short_lines"] > c.max_short_lines),
            ("quality.fineweb_dup_line_chars", s["dup_line_chars"], s["dup_line_chars"] > c.max_dup_line_chars),
            ("quality.fineweb_newlines_per_word", s["newlines_per_word"], s["newlines_per_word"] > c.max_newlines_per_word),
        )
