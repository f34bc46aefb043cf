"""The engine: passes split at global stages, a user's global stage by import path, executors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import REPO, peoples_daily_documents

from curate.config import load_config
from curate.passes import Pass, plan_passes
from curate.runner import run_pipeline

PLUGINS = REPO / "tests" / "plugins"


def test_passes_split_after_each_run_of_global_stages() -> None:
    assert plan_passes([False, False]) == [Pass(0, (0, 1), ())]
    assert plan_passes([False, True, True]) == [Pass(0, (0, 1, 2), (1, 2))]
    assert plan_passes([False, True, False, True, True, False]) == [
        Pass(0, (0, 1), (1,)),
        Pass(1, (2, 3, 4), (3, 4)),
        Pass(2, (5,), ()),
    ]
    assert plan_passes([True, False]) == [Pass(0, (0,), (0,)), Pass(1, (1,), ())]


def url_corpus(folder: Path) -> tuple[list[str], dict[str, str]]:
    """Two JSON Lines files of People's Daily documents whose URLs repeat across and within
    the files in spellings that normalise alike; the text (and first occurrence) of each URL."""
    texts = peoples_daily_documents(60)
    spellings = ["http://www.rmrb{n}.cn/a/{n}", "HTTP://rmrb{n}.cn/a/{n}/", "http://rmrb{n}.cn/a/{n}?utm_source=x#top"]
    first: dict[str, str] = {}
    files = []
    for part in range(2):
        lines = []
        for i in range(30):
            number = part * 30 + i
            # Every URL number n appears three times: documents n, n + 20 and n + 40 (mod 60).
            n = number % 20
            url = spellings[number // 20].format(n=n)
            lines.append({"id": f"doc-{number}", "url": url, "text": texts[number]})
            first.setdefault(f"rmrb{n}.cn/a/{n}", texts[number])
        path = folder / f"part-{part}.jsonl"
        path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
        files.append(str(path))
    return files, first


def write_config(folder: Path, out: Path, executor: str = "local") -> Path:
    config = folder / "engine.yaml"
    config.write_text(
        f"""
input: {{format: jsonl, paths: ["{folder}/part-*.jsonl"]}}
output: {{path: {out}}}
run: {{executor: {executor}}}
stages:
  - langid: {{languages: [zh]}}
  - url_dedup:UrlDedup: {{partitions: 3}}
  - policy: {{min_chars: 50}}
  - exact_dedup: {{partitions: 2}}
""",
        encoding="utf-8",
    )
    return config


def check_run(out: Path, manifest: dict, first: dict[str, str]) -> None:
    sys.path.insert(0, str(PLUGINS))
    from url_dedup import normalise_url

    rows = pq.read_table(out / "data").to_pylist()
    # One document per normalised URL, the first in input order.
    assert sorted(normalise_url(r["url"]).split("?")[0] for r in rows) == sorted(first)
    assert {normalise_url(r["url"]).split("?")[0]: r["text"] for r in rows} == first
    stages = {s["name"]: s for s in manifest["stages"]}
    assert stages["url_dedup"]["drops"] == {"dedup.url": 40}
    # The map stage after the global one ran on its survivors only, in the next pass.
    assert stages["langid"]["docs_out"] == stages["url_dedup"]["docs_in"] == 60
    assert stages["url_dedup"]["docs_out"] == stages["policy"]["docs_in"] == 20
    names = [s["name"] for s in manifest["stages"]]
    for before, after in zip(manifest["stages"], manifest["stages"][1:]):
        assert before["docs_out"] == after["docs_in"], (before["name"], after["name"])
    assert names == ["read", "langid", "url_dedup", "policy", "exact_dedup", "write"]
    assert manifest["outputs"]["rows"] == 20
    assert manifest["config"]["stages"][1] == {"url_dedup:UrlDedup": {"partitions": 3}}


def test_a_users_global_stage_runs_by_import_path_between_map_stages(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))
    files, first = url_corpus(tmp_path)
    out = tmp_path / "out"
    summary = run_pipeline(load_config(str(write_config(tmp_path, out))))
    check_run(out, summary.manifest, first)
    [run] = (out / "_work" / "runs").iterdir()
    assert sorted(p.name for p in run.iterdir()) == ["pass-0", "pass-1"]
    # A re-run resumes the first pass's units and every later pass and partition.
    shards = summary.manifest["outputs"]["shards"]
    again = run_pipeline(load_config(str(write_config(tmp_path, out))))
    assert again.manifest["resumed_units"] == 2
    assert again.manifest["outputs"]["shards"] == shards
    check_run(out, again.manifest, first)


def test_a_users_global_stage_runs_on_ray_when_workers_can_import_it(tmp_path: Path) -> None:
    files, first = url_corpus(tmp_path)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")]))
    command = [
        sys.executable,
        "-m",
        "curate.cli",
        "run",
        str(write_config(tmp_path, out, executor="ray")),
        "--workers",
        "2",
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    check_run(out, json.loads((out / "manifest.json").read_text()), first)


@pytest.mark.parametrize("position", [0, 2])
def test_a_map_stage_may_follow_any_global_stage(tmp_path: Path, position: int) -> None:
    """The shipped global stages work mid-list as well: exact dedup before the quality rules."""
    texts = peoples_daily_documents(30)
    lines = [{"id": f"d{i}", "url": f"http://x{i}.cn/", "text": texts[i % 10]} for i in range(30)]
    (tmp_path / "in.jsonl").write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8"
    )
    stages = ["  - langid: {languages: [zh]}", "  - policy: {min_chars: 50}", "  - zh_quality: {}"]
    stages.insert(position, "  - exact_dedup: {partitions: 2}")
    config = tmp_path / "c.yaml"
    config.write_text(
        "input: {format: jsonl, paths: [in.jsonl]}\noutput: {path: out}\nrun: {executor: local}\nstages:\n"
        + "\n".join(stages)
        + "\n",
        encoding="utf-8",
    )
    manifest = run_pipeline(load_config(str(config))).manifest
    stats = {s["name"]: s for s in manifest["stages"]}
    assert stats["exact_dedup"]["drops"] == {"dedup.exact": 20}
    following = ["langid", "policy", "zh_quality"][position]
    assert stats[following]["docs_in"] == stats["exact_dedup"]["docs_out"] == 10
    assert manifest["outputs"]["rows"] == stats["zh_quality"]["docs_out"]


def test_flagship_config_with_exact_dedup_before_the_quality_rules(tmp_path: Path) -> None:
    """On the sample crawl: the stages after it (HTML screens included) run in a second pass on
    the survivors, and the funnel adds up."""
    text = (REPO / "configs" / "zh_web.yaml").read_text(encoding="utf-8").replace("../samples/", f"{REPO}/samples/")
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("- exact_dedup"))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("      "))
    block = lines[start:end]
    del lines[start:end]
    target = next(i for i, line in enumerate(lines) if line.strip().startswith("- c4_lines"))
    lines[target:target] = block
    config = tmp_path / "mid.yaml"
    config.write_text("\n".join(lines), encoding="utf-8")
    manifest = run_pipeline(load_config(str(config), output_override=str(tmp_path / "out")), executor="local").manifest
    stages = manifest["stages"]
    names = [s["name"] for s in stages]
    assert names.index("exact_dedup") < names.index("c4_lines")
    for before, after in zip(stages, stages[1:]):
        assert before["docs_out"] == after["docs_in"], (before["name"], after["name"])
    stats = {s["name"]: s for s in stages}
    assert stats["exact_dedup"]["drops"]["dedup.exact"] > 0
    assert stats["screen_hidden_html"]["docs_in"] > 0
    assert manifest["outputs"]["rows"] == stats["minhash_dedup"]["docs_out"] > 0
    assert "html" not in {field["name"] for field in manifest["outputs"]["schema"]}


def test_a_global_stage_without_its_map_or_global_side_fails_at_class_creation() -> None:
    import pyarrow as pa

    from curate.global_stage import GlobalStage

    with pytest.raises(TypeError, match=r"Half must define resolve_partition\(\) or resolve\(\)"):

        class Half(GlobalStage):
            name = "half"
            rule = "dedup.half"
            key_schema = pa.schema([pa.field("doc", pa.int64())])

            def keys(self, batch, first_doc):
                return None

    with pytest.raises(TypeError, match=r"keys\(\) or emit\(\) and resolve_partition\(\) or resolve\(\)"):

        class Empty(GlobalStage):
            name = "empty"
