"""`curate run --address` on a real two-node Ray cluster started on this machine."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, require_shared

from curate.warc_writer import write_response


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cluster_pids(temp_dir: Path, port: int) -> set[int]:
    """Processes of this cluster only (``ray stop`` would also stop the test session's Ray)."""
    roots, parents = set(), {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if str(temp_dir) in args or f":{port} " in args or args.rstrip().endswith(f":{port}"):
            roots.add(int(entry.name))
    pids = set(roots)
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in pids} - pids
        pids |= children
        grew = bool(children)
    pids.discard(os.getpid())
    return pids


@pytest.fixture()
def two_node_cluster(tmp_path: Path):
    port = free_port()
    temp_dir = Path("/tmp") / f"curate-ray-{port}"  # Ray needs a short socket path
    env = dict(os.environ, RAY_AUTH_MODE=os.environ.get("RAY_AUTH_MODE", "token"))
    env.pop("RAY_ADDRESS", None)
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    ray_cli = [sys.executable, "-m", "ray.scripts.scripts"]
    try:
        subprocess.run(
            ray_cli
            + ["start", "--head", f"--port={port}", f"--temp-dir={temp_dir}", "--include-dashboard=false", *common],
            check=True,
            env=env,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            ray_cli + ["start", f"--address=127.0.0.1:{port}", *common],
            check=True,
            env=env,
            capture_output=True,
            timeout=120,
        )
        yield f"127.0.0.1:{port}", env
    finally:
        for _ in range(2):
            for pid in cluster_pids(temp_dir, port):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)


def test_run_on_two_node_cluster(two_node_cluster, tmp_path: Path) -> None:
    address, env = two_node_cluster
    inputs = [
        require_shared("warc", "commoncrawl_excerpt", "warcfile.warc.gz"),
        require_shared("warc", "dolma", "sample-0000.warc.gz"),
        require_shared("warc", "dolma", "sample-0001.warc.gz"),
        require_shared("warc", "ia-web-commons", "IAH-urls-wget.warc.gz"),
        require_shared("warc", "pywb", "iana.warc.gz"),
    ]
    articles = tmp_path / "gb2312.warc.gz"
    with open(articles, "wb") as handle:
        for page in sorted((require_shared("html", "zh_gb2312") / "original").glob("*.html")):
            write_response(handle, f"http://gb.test/{page.stem}", page.read_bytes(), "text/html")
    inputs.append(articles)
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "curate.cli",
        "run",
        str(REPO / "configs" / "zh_web.yaml"),
        "--address",
        address,
        "--output",
        str(out),
    ]
    for path in inputs:
        command += ["--input", str(path)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert [i["status"] for i in manifest["inputs"]] == ["ok"] * 6
    nodes = {i["node"] for i in manifest["inputs"]}
    assert len(nodes) == 2, f"units ran on {nodes}"
    assert manifest["outputs"]["rows"] > 0
