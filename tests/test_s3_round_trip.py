"""Inputs and outputs on S3: a local S3-compatible server (moto, on 127.0.0.1) started by the test.

`curate run` runs as a real subprocess, as a user would start it with AWS settings in
the environment (its local Ray workers inherit them).
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from conftest import REPO, peoples_daily_documents, require_shared


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_env():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError as error:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("the moto S3 server did not start") from error
                time.sleep(0.2)
        yield env
    finally:
        server.terminate()
        server.wait(timeout=10)


def s3(env: dict[str, str]) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(
        access_key=env["AWS_ACCESS_KEY_ID"],
        secret_key=env["AWS_SECRET_ACCESS_KEY"],
        region="us-east-1",
        endpoint_override=env["AWS_ENDPOINT_URL"],
        allow_bucket_creation=True,
    )


def curate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "curate.cli", *args],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_run_reads_from_and_writes_to_s3(s3_env, tmp_path: Path) -> None:
    fs = s3(s3_env)
    fs.create_dir("corpus")
    warc = require_shared("warc", "commoncrawl_excerpt", "warcfile.warc.gz")
    with fs.open_output_stream("corpus/crawl/cc-excerpt.warc.gz", compression=None) as out:
        out.write(warc.read_bytes())
    documents = peoples_daily_documents(40)
    with fs.open_output_stream("corpus/texts/part-0.jsonl.gz", compression=None) as out:
        out.write(
            gzip.compress(
                "\n".join(
                    json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in enumerate(documents)
                ).encode()
            )
        )

    # A WARC run: input glob and output folder both on S3.
    done = curate(
        s3_env,
        "run",
        "configs/zh_web.yaml",
        "--input",
        "s3://corpus/crawl/*.warc.gz",
        "--output",
        "s3://corpus/out-web",
        "--workers",
        "2",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads(fs.open_input_stream("corpus/out-web/manifest.json").read())
    assert [i["path"] for i in manifest["inputs"]] == ["s3://corpus/crawl/cc-excerpt.warc.gz"]
    import hashlib

    assert manifest["inputs"][0]["sha256"] == hashlib.sha256(warc.read_bytes()).hexdigest()
    assert manifest["inputs"][0]["records"] > 16
    shards = manifest["outputs"]["shards"]
    rows = sum(pq.read_table(f"corpus/out-web/{s['path']}", filesystem=fs).num_rows for s in shards)
    assert rows == manifest["outputs"]["rows"]
    for shard in shards:
        assert fs.get_file_info(f"corpus/out-web/{shard['path']}").size == shard["bytes"]
    # The audit commands read the remote folder too.
    done = curate(s3_env, "verify", "s3://corpus/out-web")
    assert done.returncode == 0, done.stdout + done.stderr
    done = curate(s3_env, "inspect", "s3://corpus/out-web", "--json")
    assert json.loads(done.stdout)["run_id"] == manifest["run_id"]
    done = curate(s3_env, "sample", "s3://corpus/out-web", "-n", "1", "--format", "jsonl")
    sampled = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0 and {row["reason"] for row in sampled} >= {"langid.prefilter"}, done.stderr[-2000:]
    done = curate(s3_env, "report", "s3://corpus/out-web")
    assert done.returncode == 0, done.stderr[-2000:]
    report = fs.open_input_stream("corpus/out-web/report.html").read().decode()
    assert manifest["run_id"] in report and "<svg" in report
    # The dataset card goes next to the manifest, verify checks it there, and what a re-run does to
    # a card (remove_card) reaches the bucket.
    done = curate(s3_env, "card", "s3://corpus/out-web")
    assert done.returncode == 0, done.stderr[-2000:]
    card = fs.open_input_stream("corpus/out-web/README.md").read().decode()
    assert card.startswith("---\n") and "path: data/*.parquet" in card
    done = curate(s3_env, "verify", "s3://corpus/out-web")
    assert done.returncode == 0, done.stdout + done.stderr
    remove = "from curate.output_folder import remove_card; remove_card('s3://corpus/out-web')"
    done = subprocess.run([sys.executable, "-c", remove], env={**os.environ, **s3_env}, cwd=REPO, timeout=120)
    assert done.returncode == 0
    assert fs.get_file_info("corpus/out-web/README.md").type == pafs.FileType.NotFound
    with fs.open_output_stream("corpus/out-web/data/stray.parquet", compression=None) as out:
        out.write(b"not a shard")
    done = curate(s3_env, "verify", "s3://corpus/out-web")
    assert done.returncode == 1 and "data/stray.parquet: not in the manifest" in done.stdout + done.stderr

    # A text run in process (no Ray), resumed: the second run finds the first one's work in its staging folder.
    config = tmp_path / "texts.yaml"
    config.write_text(
        "input:\n  format: jsonl\n  paths: ['s3://corpus/texts/*.jsonl.gz']\n"
        "stages:\n  - langid: {languages: [zh]}\n  - exact_dedup: {}\n"
        f"output:\n  path: s3://corpus/out-text\nrun:\n  staging_dir: {tmp_path / 'staging'}\n",
        encoding="utf-8",
    )
    for attempt in range(2):
        done = curate(s3_env, "run", str(config), "--executor", "local")
        assert done.returncode == 0, done.stderr[-3000:]
        if attempt == 0:
            with fs.open_output_stream("corpus/out-text/data/notes.txt", compression=None) as out:
                out.write(b"a file curate did not write")
    assert "resuming: 1 of 1 units already complete" in done.stderr
    # The re-run replaced the shards it wrote, not the user's file beside them.
    assert fs.open_input_stream("corpus/out-text/data/notes.txt").read() == b"a file curate did not write"
    manifest = json.loads(fs.open_input_stream("corpus/out-text/manifest.json").read())
    table = pq.read_table("corpus/out-text/" + manifest["outputs"]["shards"][0]["path"], filesystem=fs)
    assert sorted(table.column("text").to_pylist()) == sorted(set(documents))
    assert set(table.column("source").to_pylist()) == {"s3://corpus/texts/part-0.jsonl.gz"}
    # Only the published parts are uploaded; work files stay in the staging folder.
    uploaded = {info.path for info in fs.get_file_info(pafs.FileSelector("corpus/out-text", recursive=True))}
    assert not any("/_work" in path for path in uploaded)
    assert (tmp_path / "staging" / "_work").is_dir()


def test_missing_s3_input_fails_before_any_output(s3_env) -> None:
    s3(s3_env).create_dir("empty")
    done = curate(
        s3_env, "run", "configs/zh_web.yaml", "--input", "s3://empty/nothing/*.warc.gz", "--output", "s3://empty/out"
    )
    assert done.returncode == 2
    assert "--input[0]: no input file matches 's3://empty/nothing/*.warc.gz'" in done.stderr + done.stdout
    assert s3(s3_env).get_file_info("empty/out").type == pafs.FileType.NotFound


def test_a_remote_file_cut_into_ranges_writes_what_it_writes_whole(s3_env, tmp_path: Path) -> None:
    """Units read their byte ranges of an S3 object with ranged requests; the shards are the bytes a
    single unit writes."""
    fs = s3(s3_env)
    fs.create_dir("ranges")
    sample = REPO / "samples" / "zh_web_sample.warc.gz"
    with fs.open_output_stream("ranges/crawl/sample.warc.gz", compression=None) as out:
        out.write(sample.read_bytes())
    text = (REPO / "configs" / "zh_web.yaml").read_text(encoding="utf-8")
    digests = {}
    for size in ("null", "131072"):
        config = tmp_path / f"zh_web_{size}.yaml"
        config.write_text(text.replace("  unit_max_bytes: 268435456", f"  unit_max_bytes: {size}"), encoding="utf-8")
        done = curate(
            s3_env, "run", str(config), "--input", "s3://ranges/crawl/sample.warc.gz",
            "--output", f"s3://ranges/out-{size}", "--executor", "local",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        manifest = json.loads(fs.open_input_stream(f"ranges/out-{size}/manifest.json").read())
        digests[size] = [(s["path"], s["sha256"]) for s in manifest["outputs"]["shards"]]
        if size != "null":
            ranges = [i["range"] for i in manifest["inputs"]]
            assert len(ranges) >= 4 and ranges[-1]["end"] is None
    assert digests["null"] == digests["131072"] and digests["null"]
