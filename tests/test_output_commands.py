"""Commands on an output folder: `verify` against the manifest, `inspect --json`, `sample`; and the sampling
behind it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO, run_flagship

from curate.cli import cli


@pytest.fixture(scope="module")
def output(tmp_path_factory) -> Path:
    return run_flagship(tmp_path_factory.mktemp("verify") / "out")


def verify(out: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["verify", str(out)])
    return result.exit_code, result.output


def test_an_untouched_output_verifies(output: Path) -> None:
    code, text = verify(output)
    assert code == 0, text
    assert "match the manifest" in text


def test_a_flipped_byte_a_deleted_shard_and_a_stray_file_are_reported(output: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(output, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    shard = copy / manifest["outputs"]["shards"][0]["path"]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    code, text = verify(copy)
    assert code == 1 and f"{manifest['outputs']['shards'][0]['path']}: sha256 differs from the manifest" in text
    quarantine = copy / manifest["quarantine"]["files"][0]["path"]
    quarantine.unlink()
    shutil.copy(shard, copy / "data" / "extra.parquet")
    code, text = verify(copy)
    assert code == 1
    assert (
        f"{manifest['quarantine']['files'][0]['path']}: missing" in text
        and "data/extra.parquet: not in the manifest" in text
    )
    shard.unlink()
    code, text = verify(copy)
    assert f"{manifest['outputs']['shards'][0]['path']}: missing" in text


def test_inspect_json_is_the_manifest(output: Path) -> None:
    result = CliRunner().invoke(cli, ["inspect", str(output), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == json.loads((output / "manifest.json").read_text())
    assert CliRunner().invoke(cli, ["verify", str(output / "nowhere")]).exit_code == 2


def sample(out: Path, *options: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["sample", str(out), *options])
    return result.exit_code, result.output


def test_sample_prints_dropped_and_kept_documents(output: Path) -> None:
    code, text = sample(output, "--reason", "screen.prompt_injection", "-n", "1")
    assert code == 0 and text.startswith("== screen.prompt_injection  (screen_injection)") and "evidence: " in text
    code, text = sample(output, "--kept", "-n", "3", "--format", "jsonl")
    rows = [json.loads(line) for line in text.splitlines()]
    assert code == 0 and len(rows) == 3 and {r["reason"] for r in rows} == {"kept"} and all(r["text"] for r in rows)
    code, text = sample(output, "--reason", "dedup.minhash", "--format", "jsonl")
    assert all(json.loads(line)["kept_id"] for line in text.splitlines())
    code, text = sample(output, "--reason", "quality.nonsense")
    assert code == 2 and "reasons with samples: " in text
    # Every drop reason of the run that has documents to show has samples.
    manifest = json.loads((output / "manifest.json").read_text())
    code, text = sample(output, "-n", "1", "--format", "jsonl")
    sampled = {json.loads(line)["reason"] for line in text.splitlines()}
    dropped = {r for s in manifest["stages"] if s["name"] != "read" for r in s["drops"]}
    assert dropped <= sampled


def test_draws_are_reproducible_by_seed_and_stratified(output: Path) -> None:
    first = sample(output, "--reason", "langid.not_target", "-n", "5", "--format", "jsonl", "--seed", "1")[1]
    assert first == sample(output, "--reason", "langid.not_target", "-n", "5", "--format", "jsonl", "--seed", "1")[1]
    assert first != sample(output, "--reason", "langid.not_target", "-n", "5", "--format", "jsonl", "--seed", "2")[1]
    domains = [json.loads(line)["domain"] for line in first.splitlines()]
    everything = sample(output, "--reason", "langid.not_target", "-n", "1000", "--format", "jsonl")[1]
    available = {json.loads(line)["domain"] for line in everything.splitlines()}
    assert len(domains) == 5 and len(set(domains)) == min(5, len(available)) >= 3  # spread over sites first


def test_bottom_k_samples_merge_like_one_pass() -> None:
    from curate.samples import Sampler, merge

    documents = [
        {"id": f"d{i}", "url": None, "domain": f"s{i % 7}", "source": f"f{i % 3}", "text": "x"} for i in range(500)
    ]
    one = Sampler(10, seed=5)
    one.offer("s", "r", documents)
    parts = [Sampler(10, seed=5) for _ in range(3)]
    for i, part in enumerate(parts):
        mine = documents[i::3][::-1]  # each unit a third of the documents, in another order and batching
        for start in range(0, len(mine), 7):
            part.offer("s", "r", mine[start : start + 7])
    assert one.table().column("id").to_pylist() == merge([p.table() for p in parts], 10).column("id").to_pylist()


def test_profile_writes_a_per_stage_breakdown(output: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["run", str(REPO / "configs" / "zh_web.yaml"), "--output", str(output), "--profile", "--executor", "local"],
    )
    assert result.exit_code == 0, result.output
    text = (output / "profile.txt").read_text()
    manifest = json.loads((output / "manifest.json").read_text())
    for stage in manifest["stages"]:
        assert re.search(rf"^{stage['name']} +{stage['docs_in']} ", text, re.M), stage["name"]
    assert "share of cpu" in text
