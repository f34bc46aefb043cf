"""`curate verify` re-hashes an output against its manifest; `curate inspect --json` prints it for programs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from curate.cli import cli

from conftest import REPO


@pytest.fixture(scope="module")
def output(ray_session, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("verify") / "out"
    result = CliRunner().invoke(cli, ["run", str(REPO / "configs" / "zh_web.yaml"), "--output", str(out)])
    assert result.exit_code == 0, result.output
    return out


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
    assert f"{manifest['quarantine']['files'][0]['path']}: missing" in text and "data/extra.parquet: not in the manifest" in text
    shard.unlink()
    code, text = verify(copy)
    assert f"{manifest['outputs']['shards'][0]['path']}: missing" in text


def test_inspect_json_is_the_manifest(output: Path) -> None:
    result = CliRunner().invoke(cli, ["inspect", str(output), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == json.loads((output / "manifest.json").read_text())
    assert CliRunner().invoke(cli, ["verify", str(output / "nowhere")]).exit_code == 2
