"""End to end through the CLI on real WARC input, on the session's Ray."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import jsonschema
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import REPO, require_shared

from curate.cli import cli
from curate.warc_writer import write_response

CONFIG = REPO / "configs" / "zh_web.yaml"


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["run", str(CONFIG), *args], catch_exceptions=False)
    return result.exit_code, result.output


def check_funnel(manifest: dict) -> None:
    stages = manifest["stages"]
    for stage in stages:
        assert stage["docs_in"] == stage["docs_out"] + sum(stage["drops"].values()), stage
    for before, after in zip(stages, stages[1:]):
        assert before["docs_out"] == after["docs_in"], (before["name"], after["name"])
    assert stages[-1]["docs_out"] == manifest["outputs"]["rows"]


def read_shards(out: Path, manifest: dict):
    import pyarrow as pa

    tables = [pq.read_table(out / shard["path"]) for shard in manifest["outputs"]["shards"]]
    return pa.concat_tables(tables) if tables else None


@pytest.fixture(scope="module")
def real_inputs(tmp_path_factory) -> Path:
    """The Common Crawl excerpt (mostly spam), its clipped record, the 69 real GB2312/GBK pages
    wrapped as WARC, a copy of those under another name (every page an exact duplicate), and a
    file that is not a WARC at all."""
    folder = tmp_path_factory.mktemp("inputs")
    shutil.copy(require_shared("warc", "commoncrawl_excerpt", "warcfile.warc.gz"), folder / "a-cc.warc.gz")
    shutil.copy(require_shared("warc", "commoncrawl_excerpt", "clipped.warc.gz"), folder / "b-clipped.warc.gz")
    pages = sorted((require_shared("html", "zh_gb2312") / "original").glob("*.html"))
    with open(folder / "c-gb.warc.gz", "wb") as out:
        for page in pages:
            write_response(out, f"http://gb.test/{page.stem}", page.read_bytes(), "text/html")
    shutil.copy(folder / "c-gb.warc.gz", folder / "d-mirror.warc.gz")
    (folder / "e-broken.warc.gz").write_bytes(b"\x1f\x8b\x08\x00not really gzip" * 40)
    return folder


def test_run_on_real_warc_reads_back_and_adds_up(ray_session, real_inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = run_cli("--input", str(real_inputs / "*.warc.gz"), "--output", str(out))
    assert code == 0, output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    schema = json.loads((REPO / "manifests" / "schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(manifest)
    check_funnel(manifest)

    by_name = {Path(i["path"]).name: i for i in manifest["inputs"]}
    assert by_name["a-cc.warc.gz"]["status"] == "ok" and by_name["a-cc.warc.gz"]["records"] == 50
    assert by_name["b-clipped.warc.gz"]["status"] == "partial"
    assert "truncated record" in by_name["b-clipped.warc.gz"]["errors"][0]["error"]
    assert by_name["e-broken.warc.gz"]["status"] == "failed"
    assert "warning: input failed and was skipped" in output and "e-broken.warc.gz" in output
    # Models and dictionaries load once per worker process: a worker's later inputs set up in
    # no time, so no worker pays the load twice.
    mapped = [i for i in manifest["inputs"] if i["status"] != "failed"]
    slow = [i for i in mapped if i["setup_seconds"] > 0.3]
    assert len({i["worker_pid"] for i in slow}) == len(slow), [(i["worker_pid"], i["setup_seconds"]) for i in mapped]
    assert len({i["worker_pid"] for i in mapped}) < len(mapped)  # workers are reused across inputs

    stages = {s["name"]: s for s in manifest["stages"]}
    assert stages["read"]["docs_out"] == 16 + 2 * 69
    assert stages["langid_prefilter"]["drops"]["langid.prefilter"] > 0
    table = read_shards(out, manifest)
    sources = Counter(Path(source).name for source in table.column("source").to_pylist())
    # Every page kept from c-gb had its copy in d-mirror removed: the first input wins each duplicate.
    assert (
        "d-mirror.warc.gz" not in sources
        and stages["exact_dedup"]["drops"]["dedup.exact"] == sources["c-gb.warc.gz"] >= 60
    )
    assert (
        table.num_rows
        == manifest["outputs"]["rows"]
        == stages["exact_dedup"]["docs_out"] - stages["minhash_dedup"]["drops"].get("dedup.minhash", 0)
    )
    assert [f["name"] for f in manifest["outputs"]["schema"]] == table.schema.names
    for column in (
        "id",
        "text",
        "url",
        "domain",
        "source",
        "source_offset",
        "fetch_time",
        "lang",
        "lang_score",
        "script",
        "charset",
    ):
        assert column in table.schema.names
    assert "html" not in table.schema.names
    rows = table.to_pylist()
    assert {r["lang"] for r in rows} == {"zh"}
    assert len({r["id"] for r in rows}) == len(rows)
    assert any(r["charset"] == "gb18030" for r in rows)
    for shard in manifest["outputs"]["shards"]:
        assert pq.ParquetFile(out / shard["path"]).metadata.row_group(0).column(0).compression == "ZSTD"

    inspect = CliRunner().invoke(cli, ["inspect", str(out)])
    assert inspect.exit_code == 0
    assert "langid.prefilter" in inspect.output and "e-broken.warc.gz" in inspect.output
    assert f"{manifest['outputs']['rows']} rows" in inspect.output


def test_ray_and_in_process_runs_give_identical_shards(ray_session, real_inputs: Path, tmp_path: Path) -> None:
    checksums = []
    for name in ("ray", "local"):
        code, output = run_cli(
            "--input", str(real_inputs / "c-gb.warc.gz"), "--output", str(tmp_path / name), "--executor", name
        )
        assert code == 0, output
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        checksums.append([(s["path"], s["sha256"]) for s in manifest["outputs"]["shards"]])
    assert checksums[0] == checksums[1] and checksums[0]


def test_rerun_skips_completed_units(real_inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = (
        "--input",
        str(real_inputs / "a-cc.warc.gz"),
        "--input",
        str(real_inputs / "c-gb.warc.gz"),
        "--output",
        str(out),
        "--executor",
        "local",
    )
    assert run_cli(*args)[0] == 0
    first = json.loads((out / "manifest.json").read_text())
    assert first["resumed_units"] == 0
    assert run_cli(*args)[0] == 0
    second = json.loads((out / "manifest.json").read_text())
    assert second["resumed_units"] == 2
    assert second["outputs"] == first["outputs"]
    assert run_cli(*args, "--fresh")[0] == 0
    assert json.loads((out / "manifest.json").read_text())["resumed_units"] == 0


def test_inspect_without_manifest_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["inspect", str(tmp_path)])
    assert result.exit_code == 2
    assert "no manifest" in result.output


def test_every_input_failing_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.warc"
    bad.write_bytes(b"not a warc\n" * 10)
    code, output = run_cli("--input", str(bad), "--output", str(tmp_path / "out"), "--executor", "local")
    assert code == 1
    assert "every input failed" in output
