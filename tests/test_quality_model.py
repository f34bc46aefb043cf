"""train-quality on real clean news vs real spam, then the quality_model stage with that model."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from conftest import common_crawl_chinese_pages, peoples_daily_documents

from curate.cli import cli
from curate.quality_training import read_texts, train_quality_model
from curate.stage import StageStats
from stages.quality_model import QualityModel, QualityModelConfig


@pytest.fixture(scope="module")
def training_files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("train")
    positive = folder / "clean.txt"
    positive.write_text(
        "\n".join(d.replace("\n", " ") for d in peoples_daily_documents(600, paragraphs=2)) + "\n", encoding="utf-8"
    )
    spam_lines = [
        line.strip()
        for page in common_crawl_chinese_pages()
        if page["lang"] == "zh"
        for line in page["text"].split("\n")
        if len(line.strip()) >= 8
    ]
    negative = folder / "spam.jsonl"
    negative.write_text(
        "".join(json.dumps({"text": line}, ensure_ascii=False) + "\n" for line in spam_lines), encoding="utf-8"
    )
    return positive, negative


def test_cli_trains_and_beats_chance(training_files, tmp_path: Path) -> None:
    positive, negative = training_files
    model = tmp_path / "quality.bin"
    result = CliRunner().invoke(
        cli,
        [
            "train-quality",
            "--positive",
            str(positive),
            "--negative",
            str(negative),
            "--out",
            str(model),
            "--holdout",
            "0.2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "precision" in result.output and model.is_file()

    evaluation = train_quality_model([str(positive)], [str(negative)], str(tmp_path / "again.bin"), holdout=0.2)
    majority = max(evaluation.test_positive, evaluation.test_negative) / (
        evaluation.test_positive + evaluation.test_negative
    )
    print(
        f"held back {evaluation.test_positive}+{evaluation.test_negative}: precision {evaluation.precision:.3f} "
        f"recall {evaluation.recall:.3f} accuracy {evaluation.accuracy:.3f} (majority class {majority:.3f})"
    )
    assert evaluation.accuracy > majority
    assert evaluation.precision > 0.9 and evaluation.recall > 0.9
    assert (tmp_path / "again.bin").read_bytes() == model.read_bytes()  # one thread, fixed seed: reproducible


def test_stage_scores_and_drops(training_files, tmp_path: Path) -> None:
    positive, negative = training_files
    model = tmp_path / "quality.bin"
    train_quality_model([str(positive)], [str(negative)], str(model))
    stage = QualityModel(QualityModelConfig(model_path=str(model), threshold=0.5))
    clean = peoples_daily_documents(700, paragraphs=2)[650:]  # not in the training files
    spam = list(read_texts(str(negative)))[:20]
    stats = StageStats("quality_model")
    out = stage.apply(pa.RecordBatch.from_pydict({"text": clean + spam}), stats)
    assert stats.drops["quality.model_score"] >= 15
    kept = out.column("text").to_pylist()
    assert sum(t in clean for t in kept) >= 0.9 * len(clean)
    assert all(0.5 <= s <= 1.0 for s in out.column("quality_score").to_pylist())


def test_bad_training_input_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "好"}\nnot json\n', encoding="utf-8")
    good = tmp_path / "good.txt"
    good.write_text("一段文字\n" * 5, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["train-quality", "--positive", str(good), "--negative", str(bad), "--out", str(tmp_path / "m.bin")]
    )
    assert result.exit_code == 2
    assert "bad.jsonl:2" in result.output
