"""Interrupt a multi-file run (Ctrl-C), re-run it, and compare with an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner
from conftest import REPO, require_shared

from curate.cli import cli
from curate.warc_writer import write_response

CONFIG = REPO / "configs" / "zh_web.yaml"


def split_real_pages(folder: Path, parts: int) -> list[Path]:
    pages = sorted((require_shared("html", "zh_gb2312") / "original").glob("*.html"))
    paths = []
    for part in range(parts):
        path = folder / f"part-{part}.warc.gz"
        with open(path, "wb") as out:
            for page in pages[part::parts]:
                write_response(out, f"http://gb.test/{page.stem}", page.read_bytes(), "text/html")
        paths.append(path)
    return paths


def shard_checksums(out: Path) -> list[tuple[str, str]]:
    manifest = json.loads((out / "manifest.json").read_text())
    return [(s["path"], s["sha256"]) for s in manifest["outputs"]["shards"]]


def stage_counts(manifest: dict) -> list[tuple]:
    return [(s["name"], s["docs_in"], s["docs_out"], s["drops"]) for s in manifest["stages"]]


def test_interrupted_run_resumes_to_the_same_output(ray_session, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    split_real_pages(inputs, 6)
    glob = str(inputs / "*.warc.gz")
    interrupted = tmp_path / "interrupted"
    env = dict(os.environ, RAY_ADDRESS="")  # its own local Ray, not the test session's
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "curate.cli",
            "run",
            str(CONFIG),
            "--input",
            glob,
            "--output",
            str(interrupted),
            "--workers",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    units = interrupted / "_work" / "units"
    deadline = time.time() + 120
    while time.time() < deadline:
        done = list(units.glob("*/done.json")) if units.exists() else []
        if done:
            break
        time.sleep(0.05)
    else:
        process.kill()
        raise AssertionError("no unit finished within 120 s: " + process.stdout.read().decode())
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode != 0, output
    assert not (interrupted / "manifest.json").exists()
    finished_before = len(list(units.glob("*/done.json")))
    assert 1 <= finished_before < 6

    resumed = CliRunner().invoke(cli, ["run", str(CONFIG), "--input", glob, "--output", str(interrupted)])
    assert resumed.exit_code == 0, resumed.output
    manifest = json.loads((interrupted / "manifest.json").read_text())
    assert manifest["resumed_units"] == finished_before

    fresh = tmp_path / "fresh"
    result = CliRunner().invoke(cli, ["run", str(CONFIG), "--input", glob, "--output", str(fresh)])
    assert result.exit_code == 0, result.output
    assert shard_checksums(interrupted) == shard_checksums(fresh)
    assert len(shard_checksums(fresh)) == 6
    assert stage_counts(json.loads((fresh / "manifest.json").read_text())) == stage_counts(manifest)
