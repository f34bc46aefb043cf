"""`curate run` end to end on every text input format, on the session's Ray."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from click.testing import CliRunner
from conftest import REPO, peoples_daily_documents, require_shared
from test_pipeline_e2e import check_funnel, read_shards

from curate.cli import cli

SCHEMA = json.loads((REPO / "manifests" / "schema.json").read_text())

TEXT_STAGES = """
stages:
  - langid: {languages: [zh], min_score: 0.5}
  - policy: {min_chars: 200}
  - screen_pii: {action: flag, redact: true}
  - exact_dedup: {partitions: 4}
  - minhash_dedup: {partitions: 4}
"""


def run(config: Path, out: Path, *extra: str) -> tuple[int, str, dict | None]:
    result = CliRunner().invoke(
        cli, ["run", str(config), "--output", str(out), "--executor", "local", *extra], catch_exceptions=False
    )
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    if manifest is not None:
        jsonschema.validate(manifest, SCHEMA)
    return result.exit_code, result.output, manifest


def read_drops(manifest: dict) -> dict[str, int]:
    return manifest["stages"][0]["drops"]


def test_shipped_wudao_and_mnbvc_configs_run(tmp_path: Path) -> None:
    code, output, manifest = run(REPO / "configs" / "wudao.yaml", tmp_path / "wudao")
    assert code == 0, output
    check_funnel(manifest)
    assert read_drops(manifest) == {"read.bad_field": 1}
    (entry,) = manifest["inputs"]
    assert entry["status"] == "partial" and entry["errors"][0]["line"] == 59
    table = read_shards(tmp_path / "wudao", manifest)
    assert table.num_rows == manifest["outputs"]["rows"] > 40
    assert all(s.endswith("wudao_sample.json") for s in table.column("source").to_pylist())
    assert json.loads(table.column("metadata")[0].as_py())["dataType"]

    code, output, manifest = run(REPO / "configs" / "mnbvc.yaml", tmp_path / "mnbvc")
    assert code == 0, output
    check_funnel(manifest)
    assert read_drops(manifest) == {"read.bad_json": 1, "read.missing_text": 1}
    assert [e["line"] for e in manifest["inputs"][0]["errors"]] == [6, 10]
    table = read_shards(tmp_path / "mnbvc", manifest)
    assert any(t.startswith("问：") for t in table.column("text").to_pylist())


def write_config(
    folder: Path, format: str, paths: list[str], extra_input: str = "", stages: str = TEXT_STAGES
) -> Path:
    config = folder / f"{format}.yaml"
    listed = "\n".join(f"    - '{p}'" for p in paths)
    config.write_text(
        f"input:\n  format: {format}\n  paths:\n{listed}\n{extra_input}{stages}\noutput:\n  path: out\n",
        encoding="utf-8",
    )
    return config


def test_jsonl_and_parquet_runs_keep_provenance_and_count_bad_input(tmp_path: Path) -> None:
    documents = peoples_daily_documents(400)
    lines = [json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in enumerate(documents[:30])]
    lines[7] = lines[7][:50]  # cut-off line
    lines.append(json.dumps({"id": 99, "text": ["a", "list"]}))
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
    data = "\n".join(
        json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in enumerate(documents[30:])
    ).encode("utf-8")
    compressed = zstandard.ZstdCompressor().compress(data)
    (tmp_path / "b.jsonl.zst").write_bytes(compressed[:-60])  # a truncated frame (zstd blocks are 128 KB)
    (tmp_path / "c.jsonl.zst").write_bytes(b"this is not zstd at all" * 10)  # unreadable

    code, output, manifest = run(write_config(tmp_path, "jsonl", ["*.jsonl*"]), tmp_path / "out-jsonl")
    assert code == 0, output
    check_funnel(manifest)
    by_name = {Path(i["path"]).name: i for i in manifest["inputs"]}
    assert by_name["a.jsonl.gz"]["status"] == "partial"
    assert [(e["line"], e["error"].split(":")[0]) for e in by_name["a.jsonl.gz"]["errors"]] == [
        (8, "not JSON"),
        (31, "field 'text' is list, expected a string"),
    ]
    assert by_name["b.jsonl.zst"]["status"] == "partial" and "cut off" in by_name["b.jsonl.zst"]["errors"][0]["error"]
    assert by_name["c.jsonl.zst"]["status"] == "failed" and "unreadable input" in by_name["c.jsonl.zst"]["error"]
    assert read_drops(manifest) == {"read.bad_json": 1, "read.bad_field": 1, "read.truncated": 1}
    from curate.report import build_report

    assert "a.jsonl.gz: 2 errors; first: not JSON" in build_report(str(tmp_path / "out-jsonl"), manifest)
    table = read_shards(tmp_path / "out-jsonl", manifest)
    rows = zip(*(table.column(c).to_pylist() for c in ("source", "source_id", "source_offset")))
    kept = {sid: offset for source, sid, offset in rows if source.endswith("a.jsonl.gz")}
    # Provenance is the line's byte offset in the decompressed text.
    starts = [0, *itertools.accumulate(len(line.encode("utf-8")) + 1 for line in lines)]
    assert kept["0"] == 0 and kept["29"] == starts[29]
    assert set(table.column("text").to_pylist()) <= set(documents)

    pq.write_table(
        pa.table({"body": documents[:60], "doc": [f"d{i}" for i in range(60)]}),
        tmp_path / "corpus.parquet",
        row_group_size=16,
    )
    config = write_config(tmp_path, "parquet", ["corpus.parquet"], "  fields: {text: body, id: doc}\n")
    code, output, manifest = run(config, tmp_path / "out-parquet")
    assert code == 0, output
    check_funnel(manifest)
    table = read_shards(tmp_path / "out-parquet", manifest)
    assert manifest["stages"][0]["docs_out"] == 60 and table.num_rows > 40
    assert all(
        f"d{offset - 1}" == sid
        for sid, offset in zip(table.column("source_id").to_pylist(), table.column("source_offset").to_pylist())
    )


def test_html_stages_on_text_input(tmp_path: Path, caplog) -> None:
    """A text config that lists an HTML stage fails before any output; a web config run on
    WET text with --format leaves the HTML stages out and says so."""
    stages = TEXT_STAGES.replace("stages:\n", "stages:\n  - extract: {}\n")
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "正文"}, ensure_ascii=False) + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(write_config(tmp_path, "jsonl", ["a.jsonl"], stages=stages)),
            "--output",
            str(tmp_path / "never"),
            "--executor",
            "local",
        ],
    )
    assert result.exit_code == 2
    assert "stages[0].extract: needs the page's HTML, but input.format 'jsonl' gives text" in result.output
    assert not (tmp_path / "never").exists()

    wet = require_shared("warc", "commoncrawl-whirlwind", "whirlwind.warc.wet.gz")
    code, output, manifest = run(
        REPO / "configs" / "zh_web.yaml", tmp_path / "wet", "--format", "wet", "--input", str(wet)
    )
    assert code == 0, output
    assert "stage extract left out: needs HTML; --format wet gives text" in caplog.text
    assert [s["stage"] for s in manifest["skipped_stages"]] == ["langid_prefilter", "extract", "screen_hidden_html"]
    assert "langid_prefilter" not in [s["name"] for s in manifest["stages"]]
    assert manifest["stages"][0]["docs_out"] >= 1
    check_funnel(manifest)
    from curate.report import build_report

    assert "<th>left out</th><td>extract: needs HTML; --format wet gives text</td>" in build_report(
        str(tmp_path / "wet"), manifest
    )
