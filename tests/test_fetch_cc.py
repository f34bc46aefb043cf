"""curate fetch-cc against a local HTTP server that serves real WARC files from ../shared/data
like data.commoncrawl.org (Range requests, S3-style ETags) and fails on demand."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import socket
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO, require_shared

from curate.cli import cli
from curate.fetch_cc import (
    InputListError,
    RetryPolicy,
    SelectionError,
    content_md5,
    etag_md5,
    parse_content_range,
    parse_retry_after,
    read_input_list,
    select_paths,
)

CRAWL = "CC-MAIN-2099-01"
LISTING = f"crawl-data/{CRAWL}/warc.paths.gz"
# Real WARC files, served under Common Crawl-style paths (two segments).
SOURCES = {
    "00000": ("warc", "commoncrawl_excerpt", "warcfile.warc.gz"),
    "00001": ("warc", "jwarc", "cc.warc.gz"),
    "00002": ("warc", "commoncrawl-whirlwind", "whirlwind.warc.gz"),
    "00003": ("warc", "pywb", "dupes.warc.gz"),
    "00004": ("warc", "ia-web-commons", "IAH-urls-wget.warc.gz"),
    "00005": ("warc", "commoncrawl_excerpt", "clipped.warc.gz"),
}
FAST = ["--backoff", "0.01", "--max-backoff", "0.05", "--timeout", "5"]


def cc_path(number: str, name: str) -> str:
    segment = "1700000000000.11" if number < "00003" else "1700000000000.22"
    return f"crawl-data/{CRAWL}/segments/{segment}/warc/CC-MAIN-20990101000000-{number}-{name}"


@dataclass
class Request:
    method: str
    path: str
    range: str | None


@dataclass
class FakeCommonCrawl:
    """State shared with the handler: files, injected faults, a log of requests, concurrency."""

    files: dict[str, bytes]
    sources: dict[str, Path]
    faults: dict[str, list[str]] = field(default_factory=dict)
    """Per path, faults for its next GETs in order ('503', '429', '404', 'drop', 'reset',
    'stall', 'corrupt'; a fault ending in '!' stays for every request)."""
    modes: set[tuple[str, str]] = field(default_factory=set)
    """(path, 'ignore_range' | 'content_md5' | 'no_etag')."""
    delay: float = 0.0
    requests: list[Request] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def gets(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == "GET" and r.path == path]

    def next_fault(self, path: str) -> str | None:
        with self.lock:
            queue = self.faults.get(path) or []
            if not queue:
                return None
            if queue[0].endswith("!"):
                return queue[0][:-1]
            return queue.pop(0)


class Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer
    state: FakeCommonCrawl

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        state = self.server.state  # type: ignore[attr-defined]
        path = urllib.parse.unquote(self.path.lstrip("/"))  # as S3 does: crawl%3D... names crawl=...
        with state.lock:
            state.requests.append(Request(self.command, path, self.headers.get("Range")))
            state.active += 1
            state.max_active = max(state.max_active, state.active)
        try:
            time.sleep(state.delay)
            self._respond(state, path, head)
        finally:
            with state.lock:
                state.active -= 1

    def _respond(self, state: FakeCommonCrawl, path: str, head: bool) -> None:
        body = state.files.get(path)
        fault = None if head else state.next_fault(path)
        if body is None or fault == "404":
            return self._status(404, "Not Found")
        if fault == "503":
            return self._status(503, "Slow Down")
        if fault == "429":
            return self._status(429, "Too Many Requests", {"Retry-After": "0"})
        headers = {"Accept-Ranges": "bytes"}
        digest = hashlib.md5(body).digest()
        if (path, "content_md5") in state.modes:
            headers["Content-MD5"] = base64.b64encode(digest).decode()
        elif (path, "no_etag") not in state.modes:
            headers["ETag"] = f'"{digest.hex()}"'
        start, status = 0, 200
        wanted = self.headers.get("Range")
        if wanted and not head and (path, "ignore_range") not in state.modes:
            # "bytes=START-" (resuming a whole file) or "bytes=START-END" (records by the index).
            first, _, last = wanted.removeprefix("bytes=").partition("-")
            start = int(first)
            end = min(int(last), len(body) - 1) if last else len(body) - 1
            if start >= len(body):
                return self._status(416, "Range Not Satisfiable", {"Content-Range": f"bytes */{len(body)}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
        sent = body[start : end + 1] if status == 206 else body
        if fault == "corrupt":
            sent = sent[:100] + bytes([sent[100] ^ 0xFF]) + sent[101:]
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(sent))}.items():
            self.send_header(name, value)
        self.end_headers()
        if head:
            return
        if fault in ("drop", "reset", "stall"):
            self.wfile.write(sent[: len(sent) // 2])
            self.wfile.flush()
            if fault == "stall":
                time.sleep(1.0)  # past the client's timeout
            if fault == "reset":
                time.sleep(0.3)  # let the client take the bytes sent before the RST discards them
                # SO_LINGER 0 and a close without shutdown (which would send a FIN first): the
                # connection ends with a TCP RST, as a dropped connection often looks.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                os.close(self.connection.detach())
            self.close_connection = True
            return
        self.wfile.write(sent)

    def _status(self, code: int, reason: str, headers: dict[str, str] | None = None) -> None:
        message = f"{code} {reason}\n".encode()
        self.send_response(code, reason)
        for name, value in {**(headers or {}), "Content-Length": str(len(message))}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(message)


@pytest.fixture
def server():
    sources = {cc_path(n, rel[-1]): require_shared(*rel) for n, rel in SOURCES.items()}
    files = {path: source.read_bytes() for path, source in sources.items()}
    files[LISTING] = gzip.compress("".join(p + "\n" for p in sources).encode())
    state = FakeCommonCrawl(files=files, sources=sources)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.state = state  # type: ignore[attr-defined]
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def paths_of(state: FakeCommonCrawl) -> list[str]:
    return list(state.sources)


def fetch(state: FakeCommonCrawl, out: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        ["fetch-cc", "--crawl", CRAWL, "--base-url", state.url, "--out", str(out), *FAST, *args],
        catch_exceptions=False,
    )
    return result.exit_code, result.output


def local(out: Path, path: str) -> Path:
    return out / path.rsplit("/", 1)[1]


def manifest_files(out: Path) -> dict[str, dict]:
    data = json.loads((out / "inputs.json").read_text(encoding="utf-8"))
    return {f["url"].rsplit("/", 1)[1]: f for f in data["files"]}


# ---------------------------------------------------------------- the whole job


def test_faults_are_retried_resumed_verified_or_failed(server: FakeCommonCrawl, tmp_path: Path) -> None:
    p = paths_of(server)
    server.faults = {p[0]: ["503"], p[1]: ["drop"], p[2]: ["429"], p[3]: ["404!"], p[4]: ["corrupt"], p[5]: ["reset"]}
    out = tmp_path / "cc"
    code, output = fetch(server, out, "--segments", "6", "--parallel", "3")

    assert code == 1, output
    assert f"HTTP 404 Not Found: {server.url}{p[3]}" in output
    for i in (0, 1, 2, 4, 5):
        assert local(out, p[i]).read_bytes() == server.sources[p[i]].read_bytes(), p[i]
        assert not Path(f"{local(out, p[i])}.part").exists()
    assert not local(out, p[3]).exists() and not Path(f"{local(out, p[3])}.part").exists()

    size = {path: len(server.files[path]) for path in p}
    # 503, 429: one retry each, both from the start.
    assert [r.range for r in server.gets(p[0])] == [None, None]
    assert [r.range for r in server.gets(p[2])] == [None, None]
    # Dropped (clean close or RST) half way: the retry asks for the rest only.
    for i in (1, 5):
        assert [r.range for r in server.gets(p[i])] == [None, f"bytes={size[p[i]] // 2}-"], p[i]
    assert f"connection closed after {size[p[1]] // 2} of {size[p[1]]} bytes" in output
    assert f"connection lost after {size[p[5]] // 2} bytes: ConnectionResetError" in output
    # A corrupted body fails the ETag check: the part is deleted and fetched again whole.
    assert [r.range for r in server.gets(p[4])] == [None, None]
    assert "checksum mismatch" in output
    # 404 is not retried.
    assert len(server.gets(p[3])) == 1
    assert server.max_active <= 3

    files = manifest_files(out)
    data = json.loads((out / "inputs.json").read_text(encoding="utf-8"))
    assert data["crawl"] == CRAWL and data["base_url"] == server.url and data["format"] == "curate-inputs/1"
    assert data["listing"] == server.url + LISTING
    assert [f["url"] for f in data["files"]] == [server.url + path for path in p]
    for i in (0, 1, 2, 4, 5):
        entry = files[p[i].rsplit("/", 1)[1]]
        source = server.sources[p[i]].read_bytes()
        assert entry["status"] == "complete" and entry["error"] is None
        assert entry["path"] == local(out, p[i]).name
        assert entry["bytes"] == len(source)
        assert entry["md5"] == hashlib.md5(source).hexdigest() and entry["md5_source"] == "etag"
        assert entry["etag"] == f'"{entry["md5"]}"'
        assert entry["attempts"] == 2
    failed = files[p[3].rsplit("/", 1)[1]]
    assert failed["status"] == "failed" and "HTTP 404" in failed["error"] and failed["attempts"] == 1

    # Re-running resumes the job: completed files cost no request at all; the 404 is tried again.
    before = len(server.requests)
    code, output = fetch(server, out, "--segments", "6")
    assert code == 1
    assert [(r.method, r.path) for r in server.requests[before:]] == [("GET", p[3])]
    assert "5 of 6 files complete (5 already there, 0 bytes downloaded)" in output

    # Without a manifest to trust, a HEAD per file confirms the sizes; still no GET.
    (out / "inputs.json").unlink()
    before = len(server.requests)
    code, output = fetch(
        server, out, "--select", "0", "--select", "1700000000000.22", "--select", "1", "--select", "2"
    )
    assert code == 1
    assert sorted((r.method, r.path) for r in server.requests[before:]) == sorted(
        [("HEAD", p[i]) for i in (0, 1, 2, 4, 5)] + [("GET", p[3])]
    )


def test_parallel_bound_is_respected(server: FakeCommonCrawl, tmp_path: Path) -> None:
    server.delay = 0.15
    code, output = fetch(server, tmp_path / "cc", "--segments", "6", "--parallel", "2")
    assert code == 0, output
    gets = [r for r in server.requests if r.path != LISTING]
    assert len(gets) == 6
    assert server.max_active == 2  # both slots used, never a third


def test_a_final_file_of_the_wrong_size_is_fetched_again(server: FakeCommonCrawl, tmp_path: Path) -> None:
    path = paths_of(server)[1]
    out = tmp_path / "cc"
    assert fetch(server, out, "--select", "1")[0] == 0
    local(out, path).write_bytes(b"truncated")
    code, output = fetch(server, out, "--select", "1")
    assert code == 0, output
    # The record says another size, so a HEAD asks the server, then the file comes again whole.
    assert [(r.method, r.range) for r in server.requests if r.path == path] == [
        ("GET", None),
        ("HEAD", None),
        ("GET", None),
    ]
    assert local(out, path).read_bytes() == server.files[path]


def test_retry_after_is_honoured_over_the_backoff(server: FakeCommonCrawl, tmp_path: Path) -> None:
    path = paths_of(server)[2]
    server.faults = {path: ["429", "429"]}
    started = time.monotonic()
    result = CliRunner().invoke(
        cli,
        [
            "fetch-cc",
            "--crawl",
            CRAWL,
            "--base-url",
            server.url,
            "--out",
            str(tmp_path / "cc"),
            "--select",
            "2",
            "--backoff",
            "30",
            "--max-backoff",
            "60",
        ],
    )
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 5  # Retry-After: 0, not 15-30 s of backoff
    assert len(server.gets(path)) == 3
    assert manifest_files(tmp_path / "cc")[path.rsplit("/", 1)[1]]["attempts"] == 3


def test_gives_up_after_the_retries(server: FakeCommonCrawl, tmp_path: Path) -> None:
    path = paths_of(server)[0]
    server.faults = {path: ["503!"]}
    code, output = fetch(server, tmp_path / "cc", "--select", "0", "--retries", "2")
    assert code == 1
    assert len(server.gets(path)) == 3
    assert f"gave up after 3 attempts: HTTP 503 Slow Down: {server.url}{path}" in output
    entry = manifest_files(tmp_path / "cc")[path.rsplit("/", 1)[1]]
    assert entry["status"] == "failed" and entry["attempts"] == 3


def test_a_stalled_read_times_out_and_resumes(server: FakeCommonCrawl, tmp_path: Path) -> None:
    path = paths_of(server)[0]
    server.faults = {path: ["stall"]}
    out = tmp_path / "cc"
    code, output = fetch(server, out, "--select", "0", "--timeout", "0.3")
    assert code == 0, output
    assert "timed out" in output
    assert [r.range for r in server.gets(path)] == [None, f"bytes={len(server.files[path]) // 2}-"]
    assert local(out, path).read_bytes() == server.files[path]


# ---------------------------------------------------------------- partial files from an earlier run


def test_resumes_a_part_left_by_an_earlier_run(server: FakeCommonCrawl, tmp_path: Path) -> None:
    path = paths_of(server)[0]
    out = tmp_path / "cc"
    out.mkdir()
    Path(f"{local(out, path)}.part").write_bytes(server.files[path][:12345])
    code, output = fetch(server, out, "--select", "0")
    assert code == 0, output
    assert "resuming at byte 12345" in output
    assert [r.range for r in server.gets(path)] == ["bytes=12345-"]
    assert local(out, path).read_bytes() == server.files[path]


def test_a_server_ignoring_range_restarts_the_file(server: FakeCommonCrawl, tmp_path: Path) -> None:
    path = paths_of(server)[0]
    server.modes = {(path, "ignore_range")}
    out = tmp_path / "cc"
    out.mkdir()
    Path(f"{local(out, path)}.part").write_bytes(b"stale bytes " * 100)
    code, output = fetch(server, out, "--select", "0")
    assert code == 0, output
    assert "server ignored Range" in output
    assert [r.range for r in server.gets(path)] == ["bytes=1200-"]
    assert local(out, path).read_bytes() == server.files[path]


def test_416_completes_a_whole_part_and_restarts_an_overlong_one(server: FakeCommonCrawl, tmp_path: Path) -> None:
    whole, overlong = paths_of(server)[0], paths_of(server)[1]
    out = tmp_path / "cc"
    out.mkdir()
    Path(f"{local(out, whole)}.part").write_bytes(server.files[whole])
    Path(f"{local(out, overlong)}.part").write_bytes(server.files[overlong] + b"junk")
    code, output = fetch(server, out, "--select", "0", "--select", "1")
    assert code == 0, output
    assert [r.range for r in server.gets(whole)] == [f"bytes={len(server.files[whole])}-"]  # 416, verified, renamed
    assert [r.range for r in server.gets(overlong)] == [f"bytes={len(server.files[overlong]) + 4}-", None]
    for path in (whole, overlong):
        assert local(out, path).read_bytes() == server.files[path]
    assert manifest_files(out)[local(out, whole).name]["md5_source"] == "etag"


def test_content_md5_is_checked_when_there_is_no_etag(server: FakeCommonCrawl, tmp_path: Path) -> None:
    path, plain = paths_of(server)[0], paths_of(server)[1]
    server.modes = {(path, "content_md5"), (plain, "no_etag")}
    server.faults = {path: ["corrupt"]}
    out = tmp_path / "cc"
    code, output = fetch(server, out, "--segments", "2")
    assert code == 0, output
    assert len(server.gets(path)) == 2 and "checksum mismatch (content-md5" in output
    files = manifest_files(out)
    assert files[local(out, path).name]["md5_source"] == "content-md5"
    assert files[local(out, path).name]["md5"] == hashlib.md5(server.files[path]).hexdigest()
    assert files[local(out, plain).name]["md5"] is None  # size checked only
    assert local(out, plain).read_bytes() == server.files[plain]


# ---------------------------------------------------------------- usage


def test_usage_errors_exit_2(server: FakeCommonCrawl, tmp_path: Path) -> None:
    out = str(tmp_path / "cc")
    runner = CliRunner()
    base = ["fetch-cc", "--base-url", server.url, "--out", out]
    result = runner.invoke(cli, [*base, "--crawl", "CC-MAIN-24-10", "--segments", "1"])
    assert result.exit_code == 2 and "CC-MAIN-2024-10" in result.output
    result = runner.invoke(cli, [*base, "--crawl", CRAWL])
    assert result.exit_code == 2 and "--segments" in result.output
    result = runner.invoke(cli, [*base, "--crawl", CRAWL, "--select", "no-such-segment"])
    assert result.exit_code == 2 and "matches no path" in result.output
    result = runner.invoke(cli, [*base, "--crawl", CRAWL, "--select", "99"])
    assert result.exit_code == 2 and "6 files" in result.output
    # A crawl that does not exist: its listing is a 404, named with its URL.
    result = runner.invoke(cli, [*base, "--crawl", "CC-MAIN-2098-01", "--segments", "1", *FAST])
    assert result.exit_code == 1
    assert f"HTTP 404 Not Found: {server.url}crawl-data/CC-MAIN-2098-01/warc.paths.gz" in result.output


def test_selection() -> None:
    paths = ["a/x-1.warc.gz", "b/x-2.warc.gz", "b/x-3.warc.gz", "c/x-4.warc.gz"]
    assert select_paths(paths, 2) == paths[:2]
    assert select_paths(paths, None, ["b/"]) == paths[1:3]
    assert select_paths(paths, 1, ["b/"]) == paths[1:2]
    assert select_paths(paths, None, ["3", "0", "x-3"]) == [paths[0], paths[2], paths[3]]
    with pytest.raises(SelectionError):
        select_paths(paths, None, [])
    with pytest.raises(SelectionError, match="share the name"):
        select_paths(["a/x.warc.gz", "b/x.warc.gz"], 2)


def test_http_details() -> None:
    assert parse_content_range("bytes 100-199/200") == (100, 199, 200)
    assert parse_content_range("bytes */200") == (None, None, 200)
    assert parse_content_range("bytes 0-9/*") == (0, 9, None)
    assert parse_content_range(None) == (None, None, None)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    md5 = hashlib.md5(b"x").hexdigest()
    assert etag_md5(f'"{md5}"') == md5
    assert etag_md5(f'"{md5}-3"') is None and etag_md5(f'W/"{md5}"') is None
    assert content_md5(base64.b64encode(hashlib.md5(b"x").digest()).decode()) == md5
    policy = RetryPolicy(backoff=1.0, max_backoff=10.0)
    for failures, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (9, 10.0)):
        assert ceiling / 2 <= policy.delay(failures, None) <= ceiling
    assert policy.delay(1, 3.0) == 3.0 and policy.delay(1, 3600.0) == 10.0


# ---------------------------------------------------------------- curate run --inputs-from


def test_inputs_from_lists_and_their_errors(tmp_path: Path) -> None:
    warc = require_shared("warc", "commoncrawl_excerpt", "warcfile.warc.gz")
    config = str(REPO / "configs" / "zh_web.yaml")
    listing = tmp_path / "lists" / "inputs.txt"
    listing.parent.mkdir()
    (tmp_path / "odd[1].warc.gz").write_bytes(warc.read_bytes())
    listing.write_text(f"# inputs\n{warc}\n\n../odd[1].warc.gz\n", encoding="utf-8")
    assert read_input_list(str(listing)) == [str(warc), str(tmp_path / "odd[1].warc.gz")]
    result = CliRunner().invoke(cli, ["validate", config, "--inputs-from", str(listing)])
    assert result.exit_code == 0, result.output
    assert "(2 input files;" in result.output

    result = CliRunner().invoke(cli, ["run", config, "--input", str(warc), "--inputs-from", str(listing)])
    assert result.exit_code == 2 and "not both" in result.output

    listing.write_text("nowhere.warc.gz\n", encoding="utf-8")
    with pytest.raises(InputListError, match="no such file"):
        read_input_list(str(listing))

    manifest = tmp_path / "inputs.json"
    manifest.write_text(
        json.dumps(
            {
                "files": [
                    {"url": "u1", "path": "odd[1].warc.gz", "bytes": warc.stat().st_size, "status": "complete"},
                    {
                        "url": "u2",
                        "path": "b.warc.gz",
                        "bytes": None,
                        "status": "failed",
                        "error": "HTTP 404 Not Found: u2",
                    },
                    {"url": "u3", "path": "c.warc.gz", "bytes": None, "status": "pending", "error": None},
                ]
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", config, "--inputs-from", str(manifest), "--output", str(out)])
    assert result.exit_code == 2
    assert (
        "2 file(s) not downloaded completely: b.warc.gz (failed: HTTP 404 Not Found: u2); c.warc.gz (pending)"
        in result.output
    )
    assert not out.exists()  # nothing written


def test_run_on_fetched_files(server: FakeCommonCrawl, tmp_path: Path) -> None:
    out = tmp_path / "cc"
    code, output = fetch(server, out, "--segments", "3")
    assert code == 0, output
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(REPO / "configs" / "zh_web.yaml"),
            "--inputs-from",
            str(out / "inputs.json"),
            "--executor",
            "local",
            "--output",
            str(tmp_path / "zh_web"),
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "zh_web" / "manifest.json").read_text(encoding="utf-8"))
    downloaded = sorted(str(local(out, p)) for p in paths_of(server)[:3])
    assert sorted(i["path"] for i in manifest["inputs"]) == downloaded
    for entry in manifest["inputs"]:
        assert entry["sha256"] == hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest()
    assert manifest["stages"][0]["docs_in"] > 0
