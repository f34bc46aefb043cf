"""Spam lexicons of the Chinese web: gambling, pornography, SEO stuffing and ads.

Keyword lists (written for this project, in ``stages/lexicons/spam_zh/``, one
file per category; users add their own files with ``extra_lists``, the file
name being the category) are matched together in one pass by a multi-pattern
matcher (``stages.phrase_matcher``), built once per worker process. Latin
letters match case-insensitively.

A document is dropped as ``quality.spam_<category>`` when, for that category,
it has at least ``min_distinct_terms`` distinct terms AND at least
``min_hits_per_1000_chars`` hits per 1,000 characters: a news article on
gambling regulation names a few terms once; a casino landing page repeats
dozens. The recorded value is the hits per 1,000 characters.

Adds ``quality_spam``: per built-in category the hits, distinct terms and hits
per 1,000 characters, plus the share of lines with any hit.
"""

from __future__ import annotations

import bisect
import functools
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field

import pyarrow as pa

from curate.config_schema import ConfigError, bounds, path_field
from curate.decoded_columns import column_values
from curate.stage import Drop, Reason, Stage
from stages.phrase_matcher import PhraseMatcher

BUILTIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lexicons", "spam_zh")
BUILTIN_CATEGORIES = ("gambling", "porn", "seo", "ads")
_NEWLINE = re.compile("\n")
_CATEGORY_NAME = re.compile(r"^[a-z0-9_]+$")


@dataclass
class SpamThresholds:
    min_distinct_terms: int = field(default=3, metadata=bounds(1))
    min_hits_per_1000_chars: float = field(default=2.0, metadata=bounds(0))


@dataclass
class SpamLexiconConfig:
    gambling: SpamThresholds = field(default_factory=SpamThresholds)
    """Our choice: 3 distinct terms and 2 hits per 1,000 characters."""
    porn: SpamThresholds = field(default_factory=lambda: SpamThresholds(2, 1.0))
    """Our choice, stricter: these terms have almost no innocent use."""
    seo: SpamThresholds = field(default_factory=SpamThresholds)
    ads: SpamThresholds = field(default_factory=SpamThresholds)
    other: SpamThresholds = field(default_factory=SpamThresholds)
    """Thresholds of categories that come only from ``extra_lists``."""
    builtin_lists: bool = True
    extra_lists: list[str] = field(default_factory=list, metadata=path_field())
    """More keyword files (one term per line, # comments); the file name (without .txt) is the category."""

    def check(self, path: str) -> None:
        for i, list_path in enumerate(self.extra_lists):
            category = category_of(list_path)
            if not _CATEGORY_NAME.match(category):
                raise ConfigError(
                    f"{path}.extra_lists[{i}]", f"file name must give a category of a-z, 0-9 and _, got {category!r}"
                )
        if not self.builtin_lists and not self.extra_lists:
            raise ConfigError(f"{path}.extra_lists", "no keyword lists: set builtin_lists: true or give extra_lists")


def category_of(path: str) -> str:
    return os.path.basename(path).split(".")[0].lower()


def read_terms(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [line.strip().lower() for line in handle if line.strip() and not line.lstrip().startswith("#")]


@functools.lru_cache(maxsize=4)
def build_lexicon(files: tuple[str, ...]) -> tuple[PhraseMatcher, dict[str, tuple[str, ...]]]:
    """One matcher over every term of every list, built once per worker process, and the
    categories whose lists contain each term."""
    categories: dict[str, list[str]] = defaultdict(list)
    for path in files:
        for term in read_terms(path):
            if category_of(path) not in categories[term]:
                categories[term].append(category_of(path))
    return PhraseMatcher(categories), {term: tuple(names) for term, names in categories.items()}


class SpamLexicon(Stage):
    name = "spam_lexicon"
    config_class = SpamLexiconConfig
    reads = ("text",)
    writes = (
        pa.field(
            "quality_spam",
            pa.struct(
                [
                    pa.field(f"{c}_{k}", pa.int32() if k != "per_1000" else pa.float32())
                    for c in BUILTIN_CATEGORIES
                    for k in ("hits", "distinct", "per_1000")
                ]
                + [pa.field("line_share", pa.float32())]
            ),
        ),
    )

    def __init__(self, config: SpamLexiconConfig) -> None:
        super().__init__(config)
        builtin = (
            sorted(os.path.join(BUILTIN_DIR, f"{c}.txt") for c in BUILTIN_CATEGORIES) if config.builtin_lists else []
        )
        self.files = tuple(builtin + list(config.extra_lists))
        self.matcher, self.categories = build_lexicon(self.files)

    def limits_of(self, category: str) -> SpamThresholds:
        return getattr(self.config, category) if category in BUILTIN_CATEGORIES else self.config.other

    def match(self, text: str) -> tuple[dict[str, int], dict[str, set[str]], float]:
        """Hits and distinct terms per category, and the share of lines with a hit."""
        hits: dict[str, int] = defaultdict(int)
        terms: dict[str, set[str]] = defaultdict(set)
        hit_positions = []
        for start, term in self.matcher.find(text):
            hit_positions.append(start)
            for category in self.categories[term]:
                hits[category] += 1
                terms[category].add(term)
        if not hit_positions:
            return hits, terms, 0.0
        # Trailing newlines start no line.
        line_starts = [0] + [match.end() for match in _NEWLINE.finditer(text.rstrip())]
        hit_lines = {bisect.bisect_right(line_starts, position) - 1 for position in hit_positions}
        return hits, terms, len(hit_lines) / len(line_starts)

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[Reason]]:
        columns, failed = self.failures(batch)
        return columns, [found[0] if found else None for found in failed]

    def failures(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[list[Reason]]]:
        texts = column_values(batch, "text")
        signals, reasons = [], []
        for text in texts:
            hits, terms, line_share = self.match(text)
            per_1000 = {c: 1000 * n / max(len(text), 1) for c, n in hits.items()}
            row: dict[str, float] = {"line_share": line_share}
            for category in BUILTIN_CATEGORIES:
                row[f"{category}_hits"] = hits.get(category, 0)
                row[f"{category}_distinct"] = len(terms.get(category, ()))
                row[f"{category}_per_1000"] = per_1000.get(category, 0.0)
            signals.append(row)
            found: list[Reason] = []
            for category in sorted(hits, key=lambda c: -per_1000[c]):
                limits = self.limits_of(category)
                if (
                    len(terms[category]) >= limits.min_distinct_terms
                    and per_1000[category] >= limits.min_hits_per_1000_chars
                ):
                    found.append(Drop(f"quality.spam_{category}", per_1000[category]))
            reasons.append(found)
        return {"quality_spam": signals}, reasons
