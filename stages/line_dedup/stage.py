"""Cross-document line dedup (a global stage): lines that recur across sites or across many
pages of one site are boilerplate (footers, navigation, 版权所有/ICP lines, "相关阅读" blocks,
injected SEO lines), and are removed from every document holding them.

Map side: each document's units (``lines``: its lines, long paragraphs cut into sentences) of at
least ``min_unit_chars`` normalised characters are hashed; a key per unit carries its hash, the
document's domain and the unit's place. Units shorter than that are never counted or removed.

Global side (``phases``): unit hashes are shuffled into partitions and counted exactly (no Bloom
filter, so nothing is removed by a false positive). A unit is boilerplate by its **spread**: it
is on pages of at least ``min_domains`` distinct domains, or on at least ``min_pages_per_domain``
pages of one domain; a line merely seen twice is not. Pages are counted by their normalised
text, so copies of one page (URL variants, mirrors) count once: their article lines are
duplicates for the document dedup stages to resolve, not boilerplate. Then each unit's documents get the places
of their boilerplate units.

Write side: the units are cut from ``text`` (a line they leave blank goes with it; nothing else
changes), and ``boilerplate_chars`` records how many characters went. A document with fewer than
``min_chars_left`` characters left is dropped as ``dedup.boilerplate_empty``: it was boilerplate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.config_schema import ConfigError, bounds
from curate.decoded_columns import column_values
from curate.global_stage import DECISION_FIELDS, DOC_FIELD, GlobalJob, GlobalStage, PhaseRunner
from curate.sorted_rows import find_sorted
from curate.stage import Drop, Reason
from stages.code_lines import code_line_numbers
from stages.line_dedup.lines import (
    normalise_unit,
    remove_units,
    sentence_flags,
    split_units,
    unit_hash,
    unit_hashes,
)

UNITS_FIELD = pa.field("boilerplate_units", pa.list_(pa.int32()))
"""Decision column: the places (in ``split_units`` order) of a kept document's boilerplate units."""
LINES = "lines"
DOCS = "docs"


@dataclass
class LineDedupConfig:
    min_domains: int = field(default=8, metadata=bounds(2))
    """A unit on pages of this many distinct domains is boilerplate. 8: the development crawl has
    no boilerplate shared across sites to tell 5 to 8 apart (every value from 5 keeps the
    paragraphs quoted by two or three other sites; 4 cuts 48 % of them), so the calibration keeps
    the largest (benchmarks/line_dedup_calibration.py)."""
    min_pages_per_domain: int = field(default=15, metadata=bounds(2))
    """A unit on this many pages of one domain is boilerplate. 15: recall is the same from 8 to 15
    and the calibration keeps the largest; from 6 down, forum threads lose paragraphs their later
    pages quote (3.5 % of the forum genre's at 6) (benchmarks/line_dedup_calibration.py)."""
    min_pages_unpunctuated: int = field(default=3, metadata=bounds(2))
    """A unit without a sentence end (a headline, a link, a label, a row of navigation: in no
    occurrence does it hold 。！？；… or their other forms) on this many pages of one domain is
    boilerplate: "related news" headlines recur on a few pages only. 3: the calibration's
    highest recall within the budget (96.3 % of the repeated boilerplate against 93.8 % without
    this rule; 2 cuts 3.4 % of the news genre's paragraphs) (benchmarks/line_dedup_calibration.py).
    Set it to ``min_pages_per_domain`` to hold every unit to that."""
    min_unit_chars: int = field(default=10, metadata=bounds(1))
    """Normalised characters (no punctuation, spaces or digits) a unit needs to be counted at
    all. 10: recall is the same from 5 to 10, and 5 to 8 also cut section headings ("第七章 法律
    责任", Wikipedia's numbered headings): 0.62 % of the curated genres' short lines at 10 against
    1.5 % at 5 (benchmarks/line_dedup_calibration.py)."""
    keep_code_lines: bool = True
    """Code lines (``stages.code_lines``: fenced blocks, lines that read as source) are never
    counted: a site's examples repeat idioms such as ``export default function App() {`` on many
    pages, and cutting them breaks the code (the 103 React documentation pages of the dev data, as
    one site: without this, 80 of them lose code lines, 2,965 in all). Whether a page is too much
    code is the ``policy`` stage's decision."""
    max_unit_chars: int = field(default=200, metadata=bounds(20))
    """Lines longer than this (paragraphs) are cut into sentences."""
    min_chars_left: int = field(default=50, metadata=bounds(0))
    """A document left with fewer characters is dropped (the policy stage's too_short length)."""
    partitions: int = field(default=16, metadata=bounds(1, 65536))
    """Hash partitions of the unit shuffle; each is counted by one task."""
    top_lines: int = field(default=10, metadata=bounds(0, 1000))
    """Removed lines per domain the manifest lists (for the domains with most removals)."""
    top_domains: int = field(default=20, metadata=bounds(0, 1000))

    def check(self, path: str) -> None:
        if self.min_pages_unpunctuated > self.min_pages_per_domain:
            raise ConfigError(f"{path}.min_pages_unpunctuated", "must not exceed min_pages_per_domain")
        if self.min_unit_chars > self.max_unit_chars:
            raise ConfigError(f"{path}.min_unit_chars", "must not exceed max_unit_chars")


class LineDedup(GlobalStage):
    name = "line_dedup"
    config_class = LineDedupConfig
    reads = ("text", "domain")
    writes = (pa.field("boilerplate_chars", pa.int32()),)
    rule = "dedup.boilerplate_empty"
    rewrites_text = True
    key_schema = pa.schema(
        [
            pa.field("unit_hash", pa.uint64()),
            pa.field("domain_hash", pa.uint64()),
            pa.field("page_hash", pa.uint64()),
            DOC_FIELD,
            pa.field("place", pa.int32()),
            pa.field("chars", pa.int32()),
            pa.field("sentence", pa.bool_()),
        ]
    )
    doc_schema = pa.schema([DOC_FIELD, pa.field("chars", pa.int32())])
    decision_columns = (pa.field("boilerplate_chars", pa.int32()),)
    evidence_as = "boilerplate"
    evaluates_population = True

    def key_schemas(self) -> dict[str, pa.Schema]:
        return {LINES: self.key_schema, DOCS: self.doc_schema}

    @classmethod
    def decision_schema(cls) -> pa.Schema:
        return pa.schema(DECISION_FIELDS + cls.decision_columns + (UNITS_FIELD,))

    def emit(self, batch: pa.RecordBatch, first_doc: int, unit: int) -> dict[str, tuple[pa.Table, np.ndarray]]:
        texts = column_values(batch, "text")
        domains = column_values(batch, "domain")
        columns: dict[str, list[Any]] = {name: [] for name in self.key_schema.names}
        for offset, (text, domain) in enumerate(zip(texts, domains)):
            units = split_units(text or "", self.config.max_unit_chars)
            code = code_line_numbers(text)[1] if self.config.keep_code_lines and text else ()
            hashes, places = unit_hashes(text or "", units, self.config.min_unit_chars, frozenset(code))
            columns["unit_hash"].append(hashes)
            columns["domain_hash"].append(np.full(len(hashes), domain_hash(domain), dtype=np.uint64))
            columns["page_hash"].append(np.full(len(hashes), unit_hash(normalise_unit(text or "")), dtype=np.uint64))
            columns["doc"].append(np.full(len(hashes), first_doc + offset, dtype=np.int64))
            columns["place"].append(places.astype(np.int32))
            columns["chars"].append(np.array([units[p].end - units[p].start for p in places.tolist()], np.int32))
            columns["sentence"].append(sentence_flags(text or "", units, places))
        lines = pa.table(
            {name: np.concatenate(parts) if parts else [] for name, parts in columns.items()}, schema=self.key_schema
        )
        partition = (lines.column("unit_hash").to_numpy() % np.uint64(self.partitions)).astype(np.int64)
        docs = pa.table(
            {
                "doc": np.arange(first_doc, first_doc + batch.num_rows, dtype=np.int64),
                "chars": np.array([len(t or "") for t in texts], dtype=np.int32),
            },
            schema=self.doc_schema,
        )
        return {LINES: (lines, partition), DOCS: (docs, np.zeros(batch.num_rows, dtype=np.int64))}

    def evaluate(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, list[list[Reason]]]:
        """The stage on ``batch`` as the whole population, in memory (the quality evaluation's
        harness): its boilerplate units cut from ``text``, and ``dedup.boilerplate_empty`` for the
        documents left too short (kept in the batch, as ``evaluate`` keeps every row)."""
        from stages.line_dedup.phases import count_spread

        keys = self.emit(batch, 0, 0)[LINES][0]
        keys = keys.append_column("unit", pa.array(np.zeros(keys.num_rows, dtype=np.int32)))
        keys = keys.append_column("row", keys.column("doc"))
        _, _, boilerplate = count_spread(keys, self.config)
        removed = keys.filter(pc.is_in(keys.column("unit_hash"), value_set=boilerplate))
        places: dict[int, list[int]] = {}
        for row, place in zip(removed.column("row").to_pylist(), removed.column("place").to_pylist()):
            places.setdefault(row, []).append(place)
        texts = list(column_values(batch, "text"))  # the cached decoding of ``batch`` stays as read
        cut, failed = [], []
        for row, text in enumerate(texts):
            text = text or ""
            units = split_units(text, self.config.max_unit_chars)
            chosen = np.array(sorted(places.get(row, [])), dtype=np.int64)
            # As the pipeline decides (phases.decide_unit): characters left = length - units cut.
            removed = sum(units[p].end - units[p].start for p in chosen.tolist())
            texts[row] = remove_units(text, units, chosen)
            cut.append(removed)
            short = len(chosen) and len(text) - removed < self.config.min_chars_left
            failed.append([Drop(self.rule, len(text) - removed)] if short else [])
        text_index = batch.schema.get_field_index("text")
        batch = batch.set_column(text_index, batch.schema.field(text_index), pa.array(texts, pa.string()))
        return self.with_columns(batch, {"boilerplate_chars": cut}), failed

    def resolve(self, job: GlobalJob, run: PhaseRunner) -> dict[str, Any] | None:
        from stages.line_dedup.phases import resolve_line_dedup

        return resolve_line_dedup(self, job, run)

    def mark(self, batch: pa.RecordBatch, rows: np.ndarray, decisions: pa.Table) -> pa.RecordBatch:
        """Set ``boilerplate_chars`` and cut the boilerplate units out of ``text``."""
        batch = super().mark(batch, rows, decisions)
        position, hit = find_sorted(decisions.column("row").to_numpy(), rows)
        if not hit.any():
            return batch
        texts = list(column_values(batch, "text"))  # the shared decoding is not ours to change
        places = decisions.column(UNITS_FIELD.name).take(pa.array(position[hit])).to_pylist()
        for index, chosen in zip(np.flatnonzero(hit).tolist(), places):
            units = split_units(texts[index], self.config.max_unit_chars)
            texts[index] = remove_units(texts[index], units, np.array(chosen, dtype=np.int64))
        text_index = batch.schema.get_field_index("text")
        return batch.set_column(text_index, batch.schema.field(text_index), pa.array(texts, pa.string()))


def domain_hash(domain: str | None) -> int:
    """A document's domain as a 64-bit number (documents without one share the empty domain)."""
    return unit_hash((domain or "").lower())
