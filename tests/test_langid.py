"""Language ID on the lingua test sentences: zh vs ja vs ko, and the script correction."""

from __future__ import annotations

import json
import re
from collections import Counter

import pyarrow as pa
import pytest
from conftest import require_shared

from curate.stage import StageStats
from stages.cjk import chinese_script, script_sets
from stages.langid import LangId, LangIdConfig


@pytest.fixture(scope="module")
def langid() -> LangId:
    return LangId(LangIdConfig(languages=["zh"], min_score=0.5))


def lingua(lang: str, kind: str) -> list[str]:
    path = require_shared("langid", "lingua", lang, f"{kind}.txt")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("lang", ["zh", "ja", "ko"])
def test_cjk_sentences_are_identified(langid: LangId, lang: str) -> None:
    sentences = lingua(lang, "sentences")
    guesses = langid.classify(sentences)
    corrected = Counter(g.lang for g in guesses)
    raw = Counter(g.raw for g in guesses)
    accuracy = corrected[lang] / len(sentences)
    print(
        f"{lang}: {len(sentences)} sentences, lid.176 alone {raw[lang] / len(sentences):.3f}, corrected {accuracy:.3f}"
    )
    assert accuracy >= 0.99
    assert accuracy >= raw[lang] / len(sentences)


def test_short_chinese_is_never_japanese(langid: LangId) -> None:
    for kind in ("sentences", "word-pairs", "single-words"):
        texts = lingua("zh", kind)
        guesses = langid.classify(texts)
        as_japanese = [t for t, g in zip(texts, guesses) if g.lang == "ja"]
        assert as_japanese == [], f"{kind}: {as_japanese[:5]}"
        # The model alone does call many of them Japanese: the correction is doing work.
    raw_ja = sum(g.raw == "ja" for g in langid.classify(lingua("zh", "word-pairs")))
    assert raw_ja > 100


def test_japanese_with_kana_stays_japanese_and_korean_stays_korean(langid: LangId) -> None:
    for lang in ("ja", "ko"):
        for kind in ("single-words", "word-pairs"):
            guesses = langid.classify(lingua(lang, kind))
            assert sum(g.lang == "zh" for g in guesses) == 0


def test_non_cjk_languages_are_not_chinese(langid: LangId) -> None:
    for lang in ("en", "de", "vi", "ru", "ar"):
        guesses = langid.classify(lingua(lang, "sentences")[:200])
        assert sum(g.lang == "zh" for g in guesses) == 0, lang


def test_stage_drops_and_annotates(langid: LangId) -> None:
    texts = lingua("zh", "sentences")[:20] + lingua("ja", "sentences")[:10] + lingua("en", "sentences")[:10]
    batch = pa.RecordBatch.from_pydict({"text": texts})
    stats = StageStats("langid")
    out = langid.apply(batch, stats)
    assert stats.drops == {"langid.not_target": 20}
    assert out.num_rows == 20
    assert set(out.column("lang").to_pylist()) == {"zh"}
    assert set(out.column("script").to_pylist()) == {"Hans"}
    assert min(out.column("lang_score").to_pylist()) >= 0.5


def test_traditional_and_simplified_script() -> None:
    raw = require_shared("zh_text", "opencc_testcases", "testcases.json").read_text(encoding="utf-8")
    cases = json.loads(re.sub(r",(\s*[}\]])", r"\1", raw))["cases"]  # the file has trailing commas
    pairs = []
    for case in cases:
        for key in ("hk2s", "tw2s", "t2s"):
            source, target = case["input"], case["expected"].get(key)
            # Some cases deliberately mix both scripts in one input; take the clearly Traditional ones.
            if (
                target
                and len(source) == len(target)
                and sum(a != b for a, b in zip(source, target)) >= 0.3 * len(source)
            ):
                pairs.append((source, target))
    assert len(pairs) >= 10
    simplified_only, _ = script_sets()
    assert all(chinese_script(target) == "Hans" for _, target in pairs)
    misses = [source for source, _ in pairs if chinese_script(source) != "Hant"]
    assert len(misses) <= 0.15 * len(pairs)
    # The misses are inputs that mix in Simplified-only characters (别强 彆強, 抬头 抬頭) or have none of either.
    for source in misses:
        assert any(c in simplified_only for c in source) or not any(c in script_sets()[1] for c in source), source


def test_model_path_must_exist(tmp_path) -> None:
    from curate.config_schema import build

    config = build(LangIdConfig, {"model_path": str(tmp_path / "lid.176.bin")}, "stages[1].langid")
    assert config.model_path.endswith("lid.176.bin")  # existence is checked once paths are resolved, in load_config
