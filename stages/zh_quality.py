"""Chinese document rules: length, script mix, and the tell-tales of Chinese web spam.

Drops (``quality.*``, each with the measured value in the manifest):
- ``low_cjk_ratio``: CJK characters under ``min_cjk_ratio`` of non-whitespace
  characters (code, URLs, numbers with a Chinese veneer); CJK languages only;
- ``bracket_share``: more than ``max_bracket_share`` of the characters inside
  【】 (SEO title stuffing: 【最新】【官方】【免费】);
- ``digit_share``: more than ``max_digit_share`` digits (price lists, phone
  numbers, lottery draws);
- ``low_entropy``: character entropy under ``min_char_entropy`` bits (the
  same few characters over and over);
- ``low_unique_chars``: distinct characters under ``min_unique_char_ratio`` of the
  first ``unique_window_chars`` visible characters (a window, because the share of
  distinct characters falls with length: a 20,000-character government report
  reuses its characters as a 500-character spam page does);
- ``ui_lines``: more than ``max_ui_line_share`` of the lines are interface text
  (short lines with 展开, 更多, 阅读全文, 点击查看 ... and no prose punctuation: a line
  with ，。！？；、 is a clause, as in a line of verse "她展开双臂迎着海风，");
- ``short_lines``: average line shorter than ``min_avg_line_chars``.

Optionally removes paragraphs with fewer than ``min_paragraph_han_chars`` Han
characters from Chinese documents (rewrites ``text``; 0 turns it off).

Reports, without dropping, ``hant_share``: Traditional-only characters among
the characters that differ between Simplified and Traditional.

Adds the ``quality_zh`` struct column with every value (``chars``: visible
characters, for the report; length is a policy, ``stages/policy.py``).

Every default is calibrated on labelled Chinese text of many genres
(``benchmarks/calibrate_quality.py``): see ``configs/zh_web.yaml``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from curate.config_schema import bounds
from curate.decoded_columns import column_values
from curate.stage import Reason, SignalFilter, Threshold, first_failure
from stages._text_kernels import char_entropy as count_characters
from stages.cjk import HAN, HAN_RANGES, HANGUL_RANGES, KANA_RANGES, in_ranges, script_tables

CJK_LANGUAGES = ("zh", "ja", "ko")
UI_PHRASES = (
    "展开",
    "展開",
    "收起",
    "更多",
    "阅读全文",
    "閱讀全文",
    "点击查看",
    "點擊查看",
    "查看更多",
    "加载更多",
    "載入更多",
    "查看全文",
    "全文阅读",
)
_WHITESPACE = (" ", "\n", "\t", "\r", "\u3000", "\xa0")
_PROSE_MARKS = re.compile(r"[，。！？；、,!?;]")
"""A line holding one of these is a clause of prose ("她展开双臂迎着海风，"), not an interface label
("展开全文", "查看更多>>", "阅读全文...")."""


@dataclass
class ZhQualityConfig:
    min_cjk_ratio: float = field(default=0.139, metadata=bounds(0, 1))
    """CJK characters / visible characters, zh/ja/ko documents. Calibrated
    (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good documents fail
    it; set by technical."""
    max_bracket_share: float = field(default=0.0728, metadata=bounds(0, 1))
    """Share of characters inside 【】 (SEO title stuffing). Calibrated
    (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good documents fail
    it; set by forum_qa."""
    max_digit_share: float = field(default=0.466, metadata=bounds(0, 1))
    """Share of digits among visible characters (price lists, lottery draws). Calibrated
    (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good documents fail
    it; set by encyclopedic."""
    min_char_entropy: float = field(default=4.5, metadata=bounds(0))
    """Bits per character. Calibrated (``benchmarks/calibrate_quality.py``): at most 0.5 % of any
    genre's known-good documents fail it; set by forum_qa."""
    min_unique_char_ratio: float = field(default=0.136, metadata=bounds(0, 1))
    """Distinct / all characters of the first ``unique_window_chars`` visible characters. Calibrated
    (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good documents fail
    it; set by technical."""
    unique_window_chars: int = field(default=1000, metadata=bounds(1))
    """Ours: long enough for prose to show its vocabulary (People's Daily: ~0.45 distinct in
    1,000 characters), short enough that long documents are measured like short ones."""
    max_ui_line_share: float = field(default=0.0834, metadata=bounds(0, 1))
    """Share of lines that are short and hold 展开/更多/阅读全文/点击查看-style interface text. Calibrated
    (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good documents fail
    it; set by news."""
    ui_line_max_chars: int = field(default=20, metadata=bounds(1))
    """Our choice: only lines with at most this many visible characters count as interface text."""
    min_avg_line_chars: float = field(default=6.62, metadata=bounds(0))
    """Visible characters per line (lists of links or labels average few). Calibrated
    (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good documents fail
    it; set by literature."""
    min_paragraph_han_chars: int = field(default=0, metadata=bounds(0))
    """Remove paragraphs of Chinese documents with fewer Han characters; 0 = off (C4 line rules already run)."""


_DIGIT_RANGES = ((0x30, 0x39), (0xFF10, 0xFF19))
_SUPPLEMENTARY_HAN = HAN_RANGES[-1]
# Character classes as bit flags in one table over the BMP, so a page is classified with one
# lookup; the slot past the BMP (everything beyond it) carries no flag, and Han characters in
# the supplementary planes are counted from their range.
_CJK, _DIGIT, _SPACE, _HANS, _HANT = 1, 2, 4, 8, 16


@functools.lru_cache(maxsize=1)
def _class_table() -> np.ndarray:
    table = np.zeros(0x10001, dtype=np.uint8)
    bmp = np.arange(0x10000, dtype=np.uint32)
    table[:-1][in_ranges(bmp, HAN_RANGES[:-1] + KANA_RANGES + HANGUL_RANGES)] |= _CJK
    table[:-1][in_ranges(bmp, _DIGIT_RANGES)] |= _DIGIT
    table[[ord(c) for c in _WHITESPACE]] |= _SPACE
    simplified, traditional = script_tables()
    table[:-1][simplified] |= _HANS
    table[:-1][traditional] |= _HANT
    return table


def char_entropy(codepoints: np.ndarray) -> float:
    """Shannon entropy in bits of the character distribution (one pass over a count table in C,
    ``stages/_text_kernels.c``; a numpy sort took 25-40 µs for 5,000 characters)."""
    return distinct_and_entropy(codepoints)[1]


def unique_share(codepoints: np.ndarray) -> float:
    """Distinct characters / characters."""
    return distinct_and_entropy(codepoints)[0] / len(codepoints) if len(codepoints) else 0.0


def distinct_and_entropy(codepoints: np.ndarray) -> tuple[int, float]:
    return count_characters(np.ascontiguousarray(codepoints, dtype=np.uint32))


def bracket_share(codepoints: np.ndarray) -> float:
    """Share of characters inside 【】 (brackets themselves not counted)."""
    if not len(codepoints):
        return 0.0
    opens, closes = codepoints == 0x3010, codepoints == 0x3011
    if not opens.any():
        return 0.0
    depth = np.cumsum(opens.astype(np.int64) - closes.astype(np.int64))
    inside = (depth > 0) & ~opens
    return float(np.count_nonzero(inside)) / len(codepoints)


def codepoints_of(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


class ZhQuality(SignalFilter):
    name = "zh_quality"
    config_class = ZhQualityConfig
    signal_column = "quality_zh"
    reason_prefix = "quality."
    writes = (
        pa.field("text", pa.string()),
        pa.field(
            "quality_zh",
            pa.struct(
                [
                    pa.field("chars", pa.int32()),
                    pa.field("cjk_ratio", pa.float32()),
                    pa.field("bracket_share", pa.float32()),
                    pa.field("digit_share", pa.float32()),
                    pa.field("char_entropy", pa.float32()),
                    pa.field("unique_char_ratio", pa.float32()),
                    pa.field("ui_line_share", pa.float32()),
                    pa.field("avg_line_chars", pa.float32()),
                    pa.field("hant_share", pa.float32()),
                ]
            ),
        ),
    )

    thresholds = (
        Threshold("quality.low_cjk_ratio", "cjk_ratio", "min_cjk_ratio", "min", CJK_LANGUAGES),
        Threshold("quality.bracket_share", "bracket_share", "max_bracket_share", "max"),
        Threshold("quality.digit_share", "digit_share", "max_digit_share", "max"),
        Threshold("quality.low_entropy", "char_entropy", "min_char_entropy", "min"),
        Threshold("quality.low_unique_chars", "unique_char_ratio", "min_unique_char_ratio", "min"),
        Threshold("quality.ui_lines", "ui_line_share", "max_ui_line_share", "max"),
        Threshold("quality.short_lines", "avg_line_chars", "min_avg_line_chars", "min"),
    )

    def signals(self, text: str, lang: str | None) -> dict[str, float]:
        codepoints = codepoints_of(text)
        flags = _class_table().take(codepoints, mode="clip")
        is_visible = (flags & _SPACE) == 0
        visible = codepoints[is_visible]
        visible_flags = flags[is_visible]
        chars = len(visible)
        beyond_bmp = visible[visible > 0xFFFF]
        supplementary_han = np.count_nonzero(
            (beyond_bmp >= _SUPPLEMENTARY_HAN[0]) & (beyond_bmp <= _SUPPLEMENTARY_HAN[1])
        )
        _, entropy = distinct_and_entropy(visible)
        is_newline = codepoints == 10
        # Visible characters per line; lines with none are blank.
        per_line = np.bincount(np.cumsum(is_newline)[is_visible], minlength=np.count_nonzero(is_newline) + 1)
        n_lines = int(np.count_nonzero(per_line))
        # Interface labels are short lines; 更多 inside a sentence is ordinary Chinese. Only the
        # short lines are searched: an article has few.
        short = np.flatnonzero((per_line > 0) & (per_line <= self.config.ui_line_max_chars))
        ui_lines = 0
        if len(short):
            lines = text.split("\n")
            ui_lines = sum(
                1
                for number in short.tolist()
                if any(phrase in lines[number] for phrase in UI_PHRASES) and not _PROSE_MARKS.search(lines[number])
            )
        hans, hant = np.count_nonzero(visible_flags & _HANS), np.count_nonzero(visible_flags & _HANT)
        return {
            "chars": chars,
            "cjk_ratio": (np.count_nonzero(visible_flags & _CJK) + supplementary_han) / chars if chars else 0.0,
            "bracket_share": bracket_share(codepoints),
            "digit_share": np.count_nonzero(visible_flags & _DIGIT) / chars if chars else 0.0,
            "char_entropy": entropy,
            "unique_char_ratio": unique_share(visible[: self.config.unique_window_chars]),
            "ui_line_share": ui_lines / n_lines if n_lines else 0.0,
            "avg_line_chars": chars / n_lines if n_lines else 0.0,
            "hant_share": hant / (hans + hant) if hans + hant else 0.0,
        }

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, Any], list[Reason]]:
        texts = column_values(batch, "text")
        langs = column_values(batch, "lang")
        min_han = self.config.min_paragraph_han_chars
        out_texts, signals, reasons = [], [], []
        for text, lang in zip(texts, langs):
            if min_han and lang == "zh":
                text = "\n".join(line for line in text.split("\n") if len(HAN.findall(line)) >= min_han)
            values = self.signals(text, lang)
            out_texts.append(text)
            signals.append(values)
            reasons.append(first_failure(self.checks(values, lang)))
        # Without paragraph removal the text is unchanged: pass the Arrow column through.
        return {"text": out_texts if min_han else batch.column("text"), "quality_zh": signals}, reasons
