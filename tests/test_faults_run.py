"""Issue 15's run faults, each reproduced: curate deletes only what it wrote, refuses folders
it does not own, runs once per folder, fails loudly when the run (not an input) broke, bounds
memory-kill retries, starts its own Ray beside a `ray start` cluster, and resumes to identical
shards after `kill -9` of the driver mid-map and mid-write."""

from __future__ import annotations

import json
import logging
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import REPO, SAMPLE_WARC

from curate.cli import cli
from curate.output_folder import LOCK, MARKER, claim_output
from curate.progress import Progress
from curate.ray_watchdog import child_pids

PLUGINS = REPO / "tests" / "plugins"
ZH_WEB = REPO / "configs" / "zh_web.yaml"


def fault_config(tmp_path: Path, action: str = "raise", run: str = "", source_contains: str = "broken") -> Path:
    """A one-stage pipeline: the fault stage breaks the run on inputs whose path holds ``source_contains``."""
    path = tmp_path / "faults.yaml"
    path.write_text(
        "name: faults\n"
        f"input: {{format: warc, paths: ['{SAMPLE_WARC}']}}\n"
        f"output: {{path: {tmp_path / 'out'}}}\n"
        f"run: {{task_retries: 1{', ' + run if run else ''}}}\n"
        "stages:\n"
        f"  - faults:Fault: {{action: {action}, source_contains: {source_contains}}}\n"
    )
    return path


def two_inputs(tmp_path: Path) -> list[str]:
    folder = tmp_path / "in"
    folder.mkdir()
    good, broken = folder / "good.warc.gz", folder / "broken.warc.gz"
    good.write_bytes(SAMPLE_WARC.read_bytes())
    broken.write_bytes(SAMPLE_WARC.read_bytes())
    return ["--input", str(good), "--input", str(broken)]


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["run", *args, "--executor", "local"])
    return result.exit_code, result.output


def run_subprocess(*args: str, timeout: float = 300, **options) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PLUGINS), str(REPO)]), RAY_ADDRESS="")
    env.update(options.pop("env", {}))
    return subprocess.run(
        [sys.executable, "-m", "curate.cli", "run", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        **options,
    )


# 1. Ownership: nothing curate did not write is touched, and folders it does not own are refused.


def user_files(folder: Path) -> dict[str, bytes]:
    files = {"data/important.csv": b"a,b\n1,2\n", "samples/my_sample.txt": b"mine\n", "manifest.json": b"{}"}
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return files


@pytest.mark.parametrize("fresh", [False, True])
def test_a_folder_curate_did_not_write_is_refused_and_untouched(tmp_path: Path, fresh: bool) -> None:
    out = tmp_path / "mine"
    files = user_files(out)
    code, output = invoke(str(ZH_WEB), "--output", str(out), *(["--fresh"] if fresh else []))
    assert code == 2, output
    assert "holds files curate did not write" in output
    assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} == set(files)
    assert all((out / name).read_bytes() == content for name, content in files.items())


def test_an_output_holding_an_input_the_working_directory_home_and_root_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = tmp_path / "crawl"
    inputs.mkdir()
    warc = inputs / "part.warc.gz"
    warc.write_bytes(SAMPLE_WARC.read_bytes())
    (inputs / MARKER).write_text("{}")  # even a folder curate owns may not hold the inputs
    code, output = invoke(str(ZH_WEB), "--input", str(warc), "--output", str(inputs), "--fresh")
    assert code == 2 and "contains the input" in output, output
    assert warc.read_bytes() == SAMPLE_WARC.read_bytes()

    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    for out, name in ((".", "the working directory"), (str(home), "$HOME"), ("/", "/")):
        code, output = invoke(str(ZH_WEB), "--output", out, "--fresh")
        assert code == 2 and f"is {name}" in output, (out, output)
    assert not any(work.iterdir()) and not any(home.iterdir())
    validate = CliRunner().invoke(cli, ["validate", str(ZH_WEB)], env={"HOME": str(home)})
    assert validate.exit_code == 0, validate.output  # validate checks the config's own output path


def test_fresh_and_reruns_remove_only_what_curate_wrote(tmp_path: Path, plugins: None) -> None:
    config = fault_config(tmp_path, source_contains="nothing-matches")
    out = tmp_path / "out"
    assert invoke(str(config))[0] == 0
    shard = next((out / "data").glob("*.parquet"))
    assert (out / MARKER).is_file()
    (out / "data" / "notes.txt").write_text("kept")
    (out / "samples" / "my_sample.txt").write_text("kept")
    (out / "report.html").write_text("old report")
    code, output = invoke(str(config), "--fresh")
    assert code == 0, output
    assert (out / "data" / "notes.txt").read_text() == "kept"
    assert (out / "samples" / "my_sample.txt").read_text() == "kept"
    assert not (out / "report.html").exists()
    assert shard.is_file()  # written again by this run
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resumed_units"] == 0
    verify = CliRunner().invoke(cli, ["verify", str(out)])
    assert verify.exit_code != 0 and "data/notes.txt: not in the manifest" in verify.output


# 2. One run per folder.


def test_a_second_run_into_a_locked_folder_exits_2_naming_the_holder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    lock = claim_output(str(out))
    try:
        code, output = invoke(str(ZH_WEB), "--output", str(out))
    finally:
        lock.release()
    assert code == 2, output
    assert f"in use by another curate run (pid {os.getpid()} on " in output
    assert sorted(p.name for p in out.iterdir()) == [LOCK, MARKER]


def test_the_lock_of_a_dead_run_is_taken_over(tmp_path: Path, plugins: None) -> None:
    config = fault_config(tmp_path, source_contains="nothing-matches")
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from curate.output_folder import claim_output; held = claim_output({str(out)!r}); input()",
        ],
        stdin=subprocess.PIPE,
        cwd=REPO,
    )
    deadline = time.time() + 30
    while not (out / LOCK).exists() or not (out / LOCK).read_text():
        assert time.time() < deadline
        time.sleep(0.05)
    assert invoke(str(config))[0] == 2
    holder.kill()
    holder.wait()
    assert f"pid {holder.pid}" in (out / LOCK).read_text()  # its record stays, its lock does not
    code, output = invoke(str(config))
    assert code == 0, output


# 3. Failures are loud: a run that broke exits non-zero without a manifest.


def test_a_stage_error_fails_the_run_and_allow_failed_inputs_publishes_without_it(
    tmp_path: Path, plugins: None
) -> None:
    config = fault_config(tmp_path)
    out = tmp_path / "out"
    code, output = invoke(str(config), *two_inputs(tmp_path))
    assert code == 1, output
    assert "1 of 2 inputs failed because the run broke around them" in output
    assert "broken.warc.gz: RuntimeError: fault stage: a bug met this input" in output
    assert not (out / "manifest.json").exists() and not (out / "data").exists()

    code, output = invoke(str(fault_config(tmp_path, run="allow_failed_inputs: true")), *two_inputs_again(tmp_path))
    assert code == 0, output
    assert "1 of 2 inputs failed (listed below)" in output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resumed_units"] == 1  # the good input's unit from the failed run
    failed = [i for i in manifest["inputs"] if i["status"] == "failed"]
    assert [(Path(i["path"]).name, i["failure"]) for i in failed] == [("broken.warc.gz", "run")]


def two_inputs_again(tmp_path: Path) -> list[str]:
    folder = tmp_path / "in"
    return ["--input", str(folder / "good.warc.gz"), "--input", str(folder / "broken.warc.gz")]


def test_unreadable_and_empty_inputs_do_not_fail_the_run_but_are_named(tmp_path: Path, plugins: None) -> None:
    config = fault_config(tmp_path, source_contains="nothing-matches")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "garbage.warc.gz").write_bytes(b"this is not a WARC file\n" * 100)
    (folder / "empty.warc").write_bytes(b"")
    args = [
        "--input",
        str(SAMPLE_WARC),
        "--input",
        str(folder / "garbage.warc.gz"),
        "--input",
        str(folder / "empty.warc"),
    ]
    code, output = invoke(str(config), *args)
    assert code == 0, output
    assert "1 of 3 inputs failed (listed below)" in output
    assert "warning: input failed and was skipped:" in output and "garbage.warc.gz" in output
    assert f"warning: input holds no records: {folder / 'empty.warc'}" in output
    inputs = {Path(i["path"]).name: i for i in json.loads((tmp_path / "out" / "manifest.json").read_text())["inputs"]}
    assert inputs["garbage.warc.gz"]["failure"] == "input"
    assert inputs["empty.warc"]["note"] == "the file holds no records"
    assert "note" not in inputs[SAMPLE_WARC.name]
    # The report says the same.
    assert CliRunner().invoke(cli, ["report", str(tmp_path / "out")]).exit_code == 0
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "3 files, " in page and "(1 failed), 1 with a note" in page
    assert "failure: input" in page and "note: the file holds no records" in page


def test_a_full_disk_during_map_fails_the_run(tmp_path: Path) -> None:
    """A file-size limit makes writes fail with EFBIG as a full disk fails them with ENOSPC."""
    out = tmp_path / "out"

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    result = run_subprocess(
        str(ZH_WEB), "--output", str(out), "--executor", "local", preexec_fn=limit_file_size, cwd=tmp_path
    )
    assert result.returncode == 1, result.stderr
    assert "inputs failed because the run broke around them" in result.stderr
    assert "File too large" in result.stderr
    assert not (out / "manifest.json").exists()


# 4. Ray: worker deaths and memory kills end in a clear failure, and the local Ray is curate's own.


def test_a_worker_death_beyond_its_retries_fails_the_run_naming_the_input(tmp_path: Path) -> None:
    config = fault_config(tmp_path, action="exit")
    result = run_subprocess(str(config), *two_inputs(tmp_path), "--workers", "1")
    assert result.returncode == 1, result.stderr
    assert "1 of 2 inputs failed because the run broke around them" in result.stderr
    assert "broken.warc.gz: WorkerCrashedError" in result.stderr or "broken.warc.gz: " in result.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_a_task_killed_for_memory_is_retried_a_bounded_number_of_times(tmp_path: Path, plugins: None) -> None:
    """Ray's memory monitor kills the task at a threshold set 1 GiB above today's use (the task
    takes memory until it is past it); with Ray's default the task would be retried forever."""
    from faults import node_memory_use

    threshold = node_memory_use() + (1 << 30) / (os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    config = fault_config(tmp_path, action="memory")
    env = {"RAY_memory_usage_threshold": f"{threshold:.4f}", "RAY_memory_monitor_refresh_ms": "100"}
    started = time.time()
    result = run_subprocess(str(config), *two_inputs(tmp_path), "--workers", "1", env=env, timeout=400)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "broken.warc.gz: OutOfMemoryError" in result.stderr, result.stderr[-3000:]
    assert time.time() - started < 300


def test_a_ray_start_cluster_or_its_stale_address_file_does_not_stop_a_local_run(tmp_path: Path) -> None:
    config = fault_config(tmp_path, source_contains="nothing-matches")
    address_file = Path("/tmp/ray/ray_current_cluster")
    saved = address_file.read_bytes() if address_file.exists() else None
    address_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        address_file.write_text("127.0.0.1:1\n")  # a dead cluster's leftover
        result = run_subprocess(str(config), "--workers", "1")
        assert result.returncode == 0, result.stderr[-3000:]
        assert "documents out" in result.stdout
    finally:
        if saved is None:
            address_file.unlink(missing_ok=True)
        else:
            address_file.write_bytes(saved)


# 5. kill -9 of the driver mid-map and mid-write resumes to identical shards.


def one_row_shards(tmp_path: Path, out: Path) -> Path:
    """zh_web with a shard per document, so the write phase lasts long enough to be cut."""
    data = yaml.safe_load(ZH_WEB.read_text())
    data["input"]["paths"] = [str(SAMPLE_WARC)]
    data["output"] |= {"path": str(out), "shard_max_rows": 1}
    data["run"] |= {"executor": "local"}
    config = tmp_path / f"{out.name}.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    return config


def shards(out: Path) -> list[tuple[str, str]]:
    manifest = json.loads((out / "manifest.json").read_text())
    return [(s["path"], s["sha256"]) for s in manifest["outputs"]["shards"]]


@pytest.mark.parametrize("moment", ["map", "write"])
def test_kill_9_of_the_driver_resumes_to_identical_shards(tmp_path: Path, moment: str) -> None:
    reference = tmp_path / "reference"
    assert run_subprocess(str(one_row_shards(tmp_path, reference))).returncode == 0
    out = tmp_path / "killed"
    config = one_row_shards(tmp_path, out)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [sys.executable, "-m", "curate.cli", "run", str(config)], env=env, stderr=subprocess.DEVNULL
    )
    units, data = out / "_work" / "units", out / "data"
    deadline = time.time() + 240
    while process.poll() is None and time.time() < deadline:
        if moment == "map" and units.is_dir() and any(units.iterdir()):
            break
        if moment == "write" and data.is_dir() and len(list(data.glob("*.parquet"))) >= 5:
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (out / "manifest.json").exists()
    result = run_subprocess(str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    assert shards(out) == shards(reference)
    assert len(shards(out)) > 5


def test_progress_says_a_phase_stopped_rather_than_finished(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="curate")
    with pytest.raises(RuntimeError), Progress("map", 3) as progress:
        progress.advance("a")
        raise RuntimeError("boom")
    assert "map: stopped after 1 of 3 tasks (RuntimeError)" in caplog.text
    assert "finished" not in caplog.text


def test_a_dead_raylet_ends_the_run_with_an_error_line(tmp_path: Path) -> None:
    config = fault_config(tmp_path, action="memory", source_contains="zh_web")
    config.write_text(
        config.read_text().replace("source_contains: zh_web}", "source_contains: zh_web, memory_bytes: 67108864}")
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PLUGINS), str(REPO)]), RAY_ADDRESS="")
    process = subprocess.Popen(
        [sys.executable, "-m", "curate.cli", "run", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    units = tmp_path / "out" / "_work" / "units"
    deadline = time.time() + 120
    while not (units.is_dir() and any(units.iterdir())):
        assert process.poll() is None and time.time() < deadline, "the map task never started"
        time.sleep(0.1)
    (raylet,) = child_pids("raylet", process.pid)
    os.kill(raylet, signal.SIGKILL)
    started = time.time()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert f"error: run failed: the local Ray's raylet (pid {raylet}) died" in stderr
    assert time.time() - started < 10
    assert not (tmp_path / "out" / "manifest.json").exists()


STOP_RAY_SCRIPT = """
import json, os, sys
from curate.executor import RayExecutor, node_id

def descendants():
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
                args = open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\\0", b" ").decode()
            except OSError:
                continue
            parents[int(entry)] = (int(stat.rsplit(")", 1)[1].split()[1]), args)
    found, grew = {os.getpid()}, True
    while grew:
        more = {pid for pid, (parent, _) in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return {pid: parents[pid][1] for pid in found if pid != os.getpid()}

executor = RayExecutor(address=None, workers=1, retries=0, max_in_flight=None)
assert executor.run("probe", node_id, [("a", ())])["a"]
before = descendants()
executor.close()
print(json.dumps(before))
"""


def test_closing_a_local_ray_stops_every_process_it_started_without_an_autoscaler_error() -> None:
    """The autoscaler monitor is stopped before ray.shutdown (which would otherwise wait a
    second for it): nothing may be left running, and no error reaches the user."""
    env = dict(os.environ, PYTHONPATH=str(REPO), RAY_ADDRESS="")
    done = subprocess.run(
        [sys.executable, "-c", STOP_RAY_SCRIPT], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    started = {int(pid): args for pid, args in json.loads(done.stdout).items()}
    assert any("autoscaler/_private/monitor.py" in args for args in started.values())
    assert any("raylet" in args for args in started.values())
    deadline = time.time() + 30
    while (left := [pid for pid in started if os.path.exists(f"/proc/{pid}")]) and time.time() < deadline:
        time.sleep(0.2)
    assert not left, {pid: started[pid] for pid in left}
    assert "autoscaler failed" not in done.stderr.lower()
    assert "Terminated with signal" not in done.stderr


def test_a_unit_folder_missing_its_documents_is_redone_not_resumed(tmp_path: Path, plugins: None) -> None:
    """What two unlocked runs once left behind: a completion record without its docs.parquet."""
    config = fault_config(tmp_path, source_contains="nothing-matches")
    out = tmp_path / "out"
    assert invoke(str(config))[0] == 0
    first = shards(out)
    (docs,) = (out / "_work" / "units").glob("*/docs.parquet")
    docs.unlink()
    code, output = invoke(str(config))
    assert code == 0, output
    assert json.loads((out / "manifest.json").read_text())["resumed_units"] == 0
    assert shards(out) == first


# 6. Bombs through a whole run: the reader's caps hold with every stage behind them.

RUN_MEASURED = """
import atexit, sys
from conftest import peak_rss
atexit.register(lambda: print(f"peak_rss {peak_rss()}", file=sys.stderr))
from curate.cli import main
sys.argv = ["curate", "run", *sys.argv[1:], "--executor", "local"]
main()
"""


def bomb_inputs(folder: Path) -> dict[str, Path]:
    """A 256 KB WARC.gz whose HTTP gzip body inflates to 256 MiB, a 24 KB .jsonl.zst holding one
    256 MiB line, and a .jsonl.gz of 256 MiB of newlines; each ends with one good document."""
    import zlib

    import zstandard

    from curate.warc_writer import write_record, write_response

    folder.mkdir()
    page = "<html><body><p>" + "今天的天气很好，我们去公园散步。" * 20 + "</p></body></html>"

    def squeeze(compressor, byte: bytes, head: bytes = b"", tail: bytes = b"") -> bytes:
        parts = [compressor.compress(head)] + [compressor.compress(byte * (1 << 20)) for _ in range(256)]
        return b"".join(parts) + compressor.compress(tail) + compressor.flush()

    warc = folder / "http.warc.gz"
    with open(warc, "wb") as out:
        body = squeeze(zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16), b"<")
        block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n" + body
        write_record(out, "response", block, target_uri="https://bomb.test/")
        write_response(out, "https://ok.test/", page.encode(), "text/html; charset=utf-8")
    good = json.dumps({"text": "今天的天气很好，我们去公园散步。" * 10}, ensure_ascii=False).encode() + b"\n"
    line = folder / "line.jsonl.zst"
    line.write_bytes(squeeze(zstandard.ZstdCompressor().compressobj(), b"a", b'{"text": "', b'"}\n' + good))
    newlines = folder / "newlines.jsonl.gz"
    newlines.write_bytes(squeeze(zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16), b"\n", tail=good))
    return {"warc": warc, "line": line, "newlines": newlines}


@pytest.mark.parametrize("bomb", ["warc", "line", "newlines"])
def test_a_run_over_a_bomb_stays_under_1_gib(tmp_path: Path, bomb: str) -> None:
    path = bomb_inputs(tmp_path / "in")[bomb]
    config = ZH_WEB if bomb == "warc" else REPO / "configs" / "mnbvc.yaml"
    args = [str(config), "--input", str(path), "--output", str(tmp_path / "out")]
    if bomb != "warc":
        args += ["--format", "jsonl"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests")]))
    done = subprocess.run(
        [sys.executable, "-c", RUN_MEASURED, *args], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    peak = int(done.stderr.rsplit("peak_rss ", 1)[1].split()[0])
    assert peak < 1 << 30, f"peak RSS {peak >> 20} MiB"
    (entry,) = json.loads((tmp_path / "out" / "manifest.json").read_text())["inputs"]
    read = json.loads((tmp_path / "out" / "manifest.json").read_text())["stages"][0]
    expected = {"warc": "read.payload_too_large", "line": "read.line_too_large", "newlines": None}[bomb]
    if expected:
        assert read["drops"].get(expected) == 1, read["drops"]
    assert entry["status"] in ("ok", "partial")
    print(f"{bomb}: peak RSS {peak >> 20} MiB")


def test_two_runs_started_into_one_folder_one_runs_the_other_exits_2(tmp_path: Path) -> None:
    """Before the lock, the second run removed the first one's in-flight unit folders at start-up."""
    out = tmp_path / "out"
    config = one_row_shards(tmp_path, out)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    first = subprocess.Popen(
        [sys.executable, "-m", "curate.cli", "run", str(config)], env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 60
    while not ((out / LOCK).exists() and f"pid {first.pid} " in (out / LOCK).read_text()):
        assert first.poll() is None and time.time() < deadline
        time.sleep(0.02)
    second = run_subprocess(str(config))
    assert second.returncode == 2, second.stderr[-2000:]
    assert f"is in use by another curate run (pid {first.pid} on " in second.stderr
    assert first.wait(timeout=240) == 0, first.stderr.read()[-2000:]
    reference = tmp_path / "reference"
    assert run_subprocess(str(one_row_shards(tmp_path, reference))).returncode == 0
    assert shards(out) == shards(reference)
