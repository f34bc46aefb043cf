"""Decoded text columns are shared between stages and stay equal to what Arrow holds."""

from __future__ import annotations

import pyarrow as pa
from conftest import peoples_daily_documents

from curate.decoded_columns import column_values, filter_batch, forget_all, remembered
from curate.stage import StageStats
from stages.c4_lines import C4Lines, C4LinesConfig
from stages.policy import Policy, PolicyConfig


def test_a_column_is_decoded_once_and_carried_through_filters() -> None:
    forget_all()
    batch = pa.RecordBatch.from_pydict({"text": ["甲", "乙", "丙", None], "n": [1, 2, 3, 4]})
    first = column_values(batch, "text")
    assert first == ["甲", "乙", "丙", None]
    assert column_values(batch, "text") is first
    assert remembered(batch.column("n")) is None  # only string columns are kept
    filtered = filter_batch(batch, [True, False, True, True])
    assert remembered(filtered.column("text")) == ["甲", "丙", None]
    assert filtered.column("text").to_pylist() == ["甲", "丙", None]


def test_slices_and_other_arrays_do_not_share_values() -> None:
    forget_all()
    batch = pa.RecordBatch.from_pydict({"text": ["a", "b", "c"]})
    column_values(batch, "text")
    assert column_values(batch.slice(1), "text") == ["b", "c"]
    other = pa.RecordBatch.from_pydict({"text": ["a", "b", "c"]})
    assert remembered(other.column("text")) is None


def test_stages_see_the_text_the_previous_stage_wrote() -> None:
    forget_all()
    texts = [d + "\n首页 | 新闻 | 科技 | 财经\n版权所有 © 2024" for d in peoples_daily_documents(20)] + ["太短"]
    batch = pa.RecordBatch.from_pydict({"text": texts, "lang": ["zh"] * len(texts)})
    cleaned = C4Lines(C4LinesConfig()).apply(batch, StageStats("c4_lines"))
    assert cleaned.num_rows == 20
    shared = remembered(cleaned.column("text"))
    assert shared == cleaned.column("text").to_pylist()
    assert all("版权所有" not in text for text in shared)
    kept = Policy(PolicyConfig(min_chars=800)).apply(cleaned, StageStats("policy"))
    assert 0 < kept.num_rows < 20
    assert remembered(kept.column("text")) == kept.column("text").to_pylist()
