"""Traditional -> Simplified conversion with OpenCC, on the OpenCC project's own test cases."""

from __future__ import annotations

import json
import re

import pyarrow as pa
from conftest import require_shared

from curate.stage import StageStats
from stages.to_simplified import ToSimplified, ToSimplifiedConfig


def test_converts_traditional_rows_only() -> None:
    raw = require_shared("zh_text", "opencc_testcases", "testcases.json").read_text(encoding="utf-8")
    cases = [c for c in json.loads(re.sub(r",(\s*[}\]])", r"\1", raw))["cases"] if "t2s" in c["expected"]]
    assert len(cases) >= 5
    texts = [c["input"] for c in cases] + ["这是简体中文。"]
    scripts = ["Hant"] * len(cases) + ["Hans"]
    stage = ToSimplified(ToSimplifiedConfig(conversion="t2s"))
    out = stage.apply(pa.RecordBatch.from_pydict({"text": texts, "script": scripts}), StageStats("to_simplified"))
    assert out.column("text").to_pylist() == [c["expected"]["t2s"] for c in cases] + ["这是简体中文。"]
    assert out.column("text_converted").to_pylist() == [True] * len(cases) + [False]
    assert out.column("script").to_pylist() == scripts  # the original script is kept
