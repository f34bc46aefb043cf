"""Download Common Crawl WARC files for ``curate run``: resumable, retried, verified, parallel.

``curate fetch-cc --crawl CC-MAIN-YYYY-WW --segments N`` reads the crawl's file list,
``crawl-data/CRAWL/warc.paths.gz``, from the base URL (https://data.commoncrawl.org/ by
default) and downloads the chosen WARC files into one folder, then writes
``DIR/inputs.json``, the input list ``curate run --inputs-from`` takes.

Per file:

- **Resume.** Bytes go to ``NAME.part``; a later attempt (or a later run) asks for the rest
  with ``Range: bytes=SIZE-``. A server that ignores Range (200) restarts the file from zero;
  416 (the part is already as long as the file, or longer) keeps a part of exactly the right
  size and otherwise restarts.
- **Retry.** 5xx, 429, timeouts, dropped or reset connections and short bodies are retried
  with exponential backoff and jitter (429/503 ``Retry-After`` is honoured, capped like every
  wait). Retries count consecutive failures; a failure after the part grew starts the count
  again, so a slow, flaky link still finishes a large file. Any other 4xx (404: no such file)
  fails the file at once.
- **Verify.** The size must equal the server's (``Content-Length`` of a 200, the total of a
  206's ``Content-Range``). Checksums accepted: a strong ``ETag`` that is 32 hex digits (S3's
  ETag of an object uploaded in one part is the MD5 of its bytes; multipart ETags ``...-N``
  and weak ``W/`` ones are not checksums and are ignored), and ``Content-MD5`` (base64 MD5,
  RFC 1864), which covers the whole file on a 200 and only the bytes sent on a 206. A
  mismatch deletes the part and retries. Only then is ``NAME.part`` renamed to ``NAME``.
- **Skip.** A final file is only ever made by that rename, so one that exists is complete if
  its size matches what ``inputs.json`` recorded (no request at all) or, without a record,
  what a HEAD request reports.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import gzip
import hashlib
import http.client
import json
import os
import random
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, TextIO

import click

from curate import __version__

DEFAULT_BASE_URL = "https://data.commoncrawl.org/"
CRAWL_PATTERN = re.compile(r"CC-MAIN-\d{4}-\d{2}")
MANIFEST_NAME = "inputs.json"
MANIFEST_FORMAT = "curate-inputs/1"
LISTING_NAME = "warc.paths.gz"
CHUNK_BYTES = 1 << 20
USER_AGENT = f"curate/{__version__} (fetch-cc; +https://commoncrawl.org/terms-of-use)"

COMPLETE, FAILED, PENDING = "complete", "failed", "pending"


class FetchError(Exception):
    """A file that cannot be downloaded: retrying would not help (404, other 4xx, disk errors)."""


class RetryableError(Exception):
    """A failed attempt worth repeating (5xx, 429, timeout, dropped connection, bad checksum)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SelectionError(ValueError):
    """A --segments/--select choice that does not fit the listing (a usage error)."""


class InputListError(ValueError):
    """An --inputs-from file that cannot be used as the run's inputs."""


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 5
    """Retries after consecutive failed attempts of one file."""
    backoff: float = 1.0
    """Seconds before the first retry; doubles with each further one."""
    max_backoff: float = 120.0
    """Cap on any single wait, a server's Retry-After included."""
    timeout: float = 60.0
    """Socket timeout (connect, and each read) in seconds."""

    def delay(self, failures: int, retry_after: float | None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``failures`` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_backoff)
        ceiling = min(self.max_backoff, self.backoff * 2 ** (failures - 1))
        # "Equal jitter": parallel downloads throttled together spread out, yet each still waits
        # at least half its backoff.
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


@dataclass
class FileResult:
    """One file's outcome, as written to inputs.json."""

    url: str
    path: str
    """Relative to the manifest's folder."""
    status: str = PENDING
    bytes: int | None = None
    md5: str | None = None
    """MD5 hex of the whole file, when the server gave one and it matched."""
    md5_source: str | None = None
    """'etag' or 'content-md5'."""
    etag: str | None = None
    attempts: int = 0
    """Requests made for this file in the last run (0: it was already complete)."""
    error: str | None = None


@dataclass
class FetchSummary:
    """What fetch_crawl did: one result per selected file, in listing order."""

    crawl: str
    out_dir: str
    manifest_path: str
    results: list[FileResult] = field(default_factory=list)
    interrupted: bool = False
    audit: dict[str, Any] | None = None
    """fetch-cc --languages --audit N: the report (see cc_audit)."""


# ---------------------------------------------------------------- progress


class Progress:
    """Thread-safe progress on stderr: a click progress bar over files on a TTY, else plain lines
    (one per event, plus a summary line at most every ``interval`` seconds), as CI logs need."""

    def __init__(self, files: int, stream: TextIO | None = None, interval: float = 10.0, bar: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.tty = bar and bool(getattr(self.stream, "isatty", lambda: False)())
        self.files = files
        self.interval = interval
        self.done = 0
        self.failed = 0
        self.received = 0
        self.active = 0
        self.started = time.monotonic()
        self._last_summary = self.started
        self._last_render = 0.0
        self._lock = threading.Lock()
        self._bar: Any = None
        if self.tty:
            self._bar = click.progressbar(
                length=files,
                label="fetch",
                file=self.stream,
                show_eta=False,
                item_show_func=lambda _: self.summary(),
                update_min_steps=0,
            )
            self._bar.__enter__()

    def summary(self) -> str:
        seconds = max(time.monotonic() - self.started, 1e-6)
        failed = f", {self.failed} failed" if self.failed else ""
        return (
            f"{self.done}/{self.files} files{failed}, {_human(self.received)} received "
            f"({_human(self.received / seconds)}/s), {self.active} active"
        )

    def event(self, message: str) -> None:
        with self._lock:
            if self._bar is not None:
                # Clear the bar's line, print above it; the bar redraws on the next update.
                click.echo("\r\x1b[K" + message, file=self.stream)
                self._bar.render_progress()
            else:
                click.echo(message, file=self.stream)

    def started_file(self) -> None:
        with self._lock:
            self.active += 1

    def advance(self, count: int) -> None:
        with self._lock:
            self.received += count
            now = time.monotonic()
            if self._bar is not None:
                if now - self._last_render >= 0.1:  # a redraw per network read would flood the terminal
                    self._last_render = now
                    self._bar.update(0)
            elif now - self._last_summary >= self.interval:
                self._last_summary = now
                click.echo(f"progress: {self.summary()}", file=self.stream)

    def finished_file(self, status: str, ran: bool = True) -> None:
        with self._lock:
            self.active -= ran
            self.done += 1
            self.failed += status == FAILED
            if self._bar is not None:
                self._bar.update(1)

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.__exit__(None, None, None)
                self._bar = None
            click.echo(f"progress: {self.summary()}", file=self.stream)


def _human(count: float) -> str:
    if count < 1024:
        return f"{count:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        count /= 1024
        if count < 1024:
            return f"{count:.1f} {unit}"
    return f"{count:.1f} GiB"


# ---------------------------------------------------------------- listing and selection


def check_crawl(crawl: str) -> str:
    if not CRAWL_PATTERN.fullmatch(crawl):
        raise SelectionError(f"expected a crawl name like CC-MAIN-2024-10, got {crawl!r}")
    return crawl


def listing_path(crawl: str, name: str = LISTING_NAME) -> str:
    return f"crawl-data/{crawl}/{name}"


def file_url(base_url: str, path: str) -> str:
    return urllib.parse.urljoin(base_url.rstrip("/") + "/", urllib.parse.quote(path.lstrip("/")))


def parse_listing(data: bytes) -> list[str]:
    """The paths in a ``*.paths.gz`` listing, one per line."""
    text = gzip.decompress(data).decode("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def select_paths(paths: list[str], segments: int | None, select: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The listing's paths picked by ``select`` (0-based indices or path substrings; all paths
    without it), in listing order, the first ``segments`` of them."""
    if segments is None and not select:
        raise SelectionError("give --segments N and/or --select (a crawl lists tens of thousands of ~1 GB WARC files)")
    if select:
        chosen: set[int] = set()
        for item in select:
            if item.isdigit():
                index = int(item)
                if index >= len(paths):
                    raise SelectionError(
                        f"--select {item}: the listing has {len(paths)} files (indices 0-{len(paths) - 1})"
                    )
                chosen.add(index)
                continue
            matches = {i for i, path in enumerate(paths) if item in path}
            if not matches:
                raise SelectionError(f"--select {item!r} matches no path in the listing")
            chosen |= matches
        picked = [paths[i] for i in sorted(chosen)]
    else:
        picked = list(paths)
    picked = picked[:segments] if segments is not None else picked
    names: dict[str, str] = {}
    for path in picked:
        name = os.path.basename(path)
        if name in names:
            # Files land flat in DIR; Common Crawl's names are unique within a crawl.
            raise SelectionError(f"two selected files share the name {name}: {names[name]} and {path}")
        names[name] = path
    return picked


# ---------------------------------------------------------------- HTTP details


def parse_content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """``bytes START-END/TOTAL`` or ``bytes */TOTAL`` as (start, end, total); None where absent."""
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*", value or "")
    if not match:
        return None, None, None
    start, end, total = match.groups()
    return (
        int(start) if start is not None else None,
        int(end) if end is not None else None,
        int(total) if total not in (None, "*") else None,
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds to wait: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def etag_md5(etag: str | None) -> str | None:
    """The MD5 hex an ETag stands for, if it is a plain (single-part S3) one."""
    if not etag or etag.startswith("W/"):
        return None
    value = etag.strip().strip('"').lower()
    return value if re.fullmatch(r"[0-9a-f]{32}", value) else None


def content_md5(value: str | None) -> str | None:
    """A Content-MD5 header (base64 of the 16-byte digest) as hex."""
    if not value:
        return None
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest.hex() if len(digest) == 16 else None


def md5_of_file(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def _open(
    url: str, policy: RetryPolicy, offset: int = 0, method: str = "GET", end: int | None = None
) -> http.client.HTTPResponse:
    """Send one request for the bytes from ``offset`` (to ``end``, inclusive, if given); HTTP errors
    come back as FetchError/RetryableError, except 416 (returned)."""
    headers = {"User-Agent": USER_AGENT}
    if end is not None:
        headers["Range"] = f"bytes={offset}-{end}"
    elif offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        return urllib.request.urlopen(request, timeout=policy.timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416:
            return error  # type: ignore[return-value]  # an HTTPError is a response too
        error.close()
        if error.code == 429 or error.code >= 500:
            raise RetryableError(
                f"HTTP {error.code} {error.reason}", parse_retry_after(error.headers.get("Retry-After"))
            ) from None
        raise FetchError(f"HTTP {error.code} {error.reason}: {url}") from None
    except urllib.error.URLError as error:
        raise RetryableError(f"cannot connect: {error.reason}") from None
    except (OSError, http.client.HTTPException) as error:
        raise RetryableError(f"{type(error).__name__}: {error}") from None


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


# ---------------------------------------------------------------- one file


@dataclass
class _Target:
    url: str
    final: str
    name: str

    @property
    def part(self) -> str:
        return self.final + ".part"


def _finish(
    target: _Target, total: int | None, checks: dict[str, str], etag: str | None, result: FileResult
) -> FileResult:
    """Verify the complete part (size, checksums) and rename it into place."""
    size = _size(target.part)
    if total is not None and size != total:
        _remove(target.part)
        raise RetryableError(f"size mismatch: have {size} bytes, server says {total}; part deleted")
    md5 = None
    if checks:
        md5 = md5_of_file(target.part)
        for source, expected in checks.items():
            if md5 != expected:
                _remove(target.part)
                raise RetryableError(f"checksum mismatch ({source} {expected}, file {md5}); part deleted")
    os.replace(target.part, target.final)
    result.status, result.bytes, result.error = COMPLETE, size, None
    result.etag = etag
    result.md5 = md5
    result.md5_source = "+".join(sorted(checks)) if checks else None
    return result


def _copy_body(
    response: http.client.HTTPResponse, handle: Any, expected: int | None, progress: Progress, stop: threading.Event
) -> tuple[int, str]:
    """Stream the body into ``handle``; return bytes written and their MD5. Network errors become
    RetryableError; what was written stays for the next attempt to resume from."""
    written = 0
    digest = hashlib.md5(usedforsecurity=False)
    while not stop.is_set():
        try:
            # read1: whatever has arrived (up to a chunk), so a dropped connection loses nothing
            # already received and progress moves smoothly.
            block = response.read1(CHUNK_BYTES)
        except (OSError, http.client.HTTPException) as error:
            handle.flush()
            raise RetryableError(f"connection lost after {written} bytes: {type(error).__name__}: {error}") from None
        if not block:
            break
        try:
            handle.write(block)
        except OSError as error:
            raise FetchError(f"cannot write {handle.name}: {error}") from None
        digest.update(block)
        written += len(block)
        progress.advance(len(block))
    if stop.is_set():
        raise KeyboardInterrupt
    if expected is not None and written < expected:
        # http.client returns b"" when the server closes early instead of raising
        # IncompleteRead, so a short body is only visible by counting.
        raise RetryableError(f"connection closed after {written} of {expected} bytes")
    return written, digest.hexdigest()


def _open_part(path: str, offset: int) -> Any:
    """The part file, open for writing at ``offset`` (anything beyond it cut off)."""
    try:
        handle = open(path, "r+b" if offset else "wb")  # noqa: SIM115 (the caller closes it)
        handle.seek(offset)
        handle.truncate()
    except OSError as error:
        raise FetchError(f"cannot write {path}: {error}") from None
    return handle


def _attempt(
    target: _Target, policy: RetryPolicy, progress: Progress, stop: threading.Event, result: FileResult
) -> FileResult:
    """One request for the rest of the file; returns the completed result or raises."""
    offset = _size(target.part) if os.path.exists(target.part) else 0
    response = _open(target.url, policy, offset)
    with response:
        headers = response.headers
        status = response.status
        if status == 416:
            _, _, total = parse_content_range(headers.get("Content-Range"))
            if total is not None and offset == total:
                # Already whole (a run stopped before the rename): verify against the checksums
                # a HEAD gives, as error responses tend to carry none.
                head = _head(target.url, policy) or headers
                etag = head.get("ETag")
                return _finish(target, total, _whole_file_checksums(head), etag, result)
            _remove(target.part)
            raise RetryableError(f"HTTP 416 for a {offset}-byte part (file has {total} bytes); restarting")
        etag = headers.get("ETag")
        checks = _whole_file_checksums(headers, content=status == 200)
        if status == 206:
            start, _, total = parse_content_range(headers.get("Content-Range"))
            if start != offset:
                _remove(target.part)
                raise RetryableError(
                    f"asked for bytes from {offset}, got {headers.get('Content-Range')!r}; restarting"
                )
        elif status == 200:
            if offset:
                progress.event(f"{target.name}: server ignored Range; restarting from 0")
                offset = 0
            length = headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        else:
            raise FetchError(f"unexpected HTTP {status}: {target.url}")
        expected = None if total is None else total - offset
        with _open_part(target.part, offset) as handle:
            _, sent_md5 = _copy_body(response, handle, expected, progress, stop)
        range_md5 = content_md5(headers.get("Content-MD5")) if status == 206 else None
        if range_md5 and range_md5 != sent_md5:
            _remove(target.part)
            raise RetryableError(f"Content-MD5 of the bytes sent from {offset} does not match; part deleted")
    return _finish(target, total, checks, etag, result)


def download_file(
    target: _Target,
    policy: RetryPolicy,
    progress: Progress,
    stop: threading.Event,
    rng: random.Random | None = None,
) -> FileResult:
    """Download one file with resume, retries and verification; never raises for HTTP problems."""
    result = FileResult(url=target.url, path=target.name)
    return with_retries(
        lambda: _attempt(target, policy, progress, stop, result), target, result, policy, progress, stop, rng
    )


def with_retries(
    attempt: Callable[[], Any],
    target: Any,
    result: Any,
    policy: RetryPolicy,
    progress: Progress,
    stop: threading.Event,
    rng: random.Random | None = None,
) -> Any:
    """Run ``attempt`` until it returns, retrying a RetryableError with backoff. ``target`` has
    ``part`` (the file being written), ``name`` and ``url``; ``result`` has ``status``, ``error``
    and ``attempts``, and is returned with the outcome when it does not succeed."""
    failures = 0
    furthest = _size(target.part)
    while True:
        if stop.is_set():
            result.status, result.error = PENDING, "interrupted"
            return result
        result.attempts += 1
        try:
            return attempt()
        except KeyboardInterrupt:
            result.status, result.error = PENDING, "interrupted"
            return result
        except FetchError as error:
            result.status, result.error = FAILED, str(error)
            return result
        except RetryableError as error:
            size = _size(target.part)
            if size > furthest:
                # This attempt made progress: the link works, so count failures afresh.
                furthest, failures = size, 0
            failures += 1
            if failures > policy.retries:
                result.status = FAILED
                result.error = f"gave up after {result.attempts} attempts: {error}: {target.url}"
                return result
            seconds = policy.delay(failures, error.retry_after, rng)
            progress.event(f"{target.name}: {error}; retry {failures}/{policy.retries} in {seconds:.1f} s")
            stop.wait(seconds)


def _whole_file_checksums(headers: Any, content: bool = True) -> dict[str, str]:
    """MD5 hex digests of the whole file that ``headers`` promise, by source. Content-MD5 covers
    the body sent, so it speaks for the whole file only on a 200 (``content``)."""
    checks = {}
    if etag_md5(headers.get("ETag")):
        checks["etag"] = etag_md5(headers.get("ETag"))
    if content and content_md5(headers.get("Content-MD5")):
        checks["content-md5"] = content_md5(headers.get("Content-MD5"))
    return checks  # type: ignore[return-value]


def _head(url: str, policy: RetryPolicy) -> Any:
    """The headers of a 200 answer to one HEAD request, or None (no retries: callers can do without)."""
    try:
        with _open(url, policy, method="HEAD") as response:
            return response.headers if response.status == 200 else None
    except (FetchError, RetryableError):
        return None


def _head_size(url: str, policy: RetryPolicy) -> int | None:
    """The server's size for ``url`` from one HEAD request, or None if it will not say."""
    length = (_head(url, policy) or {}).get("Content-Length")
    return int(length) if length and length.isdigit() else None


def already_complete(target: _Target, previous: dict[str, Any] | None, policy: RetryPolicy) -> FileResult | None:
    """A result for a final file that is already whole, else None."""
    if not os.path.isfile(target.final):
        return None
    size = _size(target.final)
    if previous and previous.get("status") == COMPLETE and previous.get("bytes") == size:
        keep = {k: previous.get(k) for k in ("md5", "md5_source", "etag")}
        return FileResult(url=target.url, path=target.name, status=COMPLETE, bytes=size, **keep)
    if _head_size(target.url, policy) == size:
        return FileResult(url=target.url, path=target.name, status=COMPLETE, bytes=size)
    # No record and no matching size from the server: fetch it again rather than trust it
    # (the download replaces it only once the new copy is verified).
    return None


# ---------------------------------------------------------------- the manifest


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_manifest(path: str, header: dict[str, Any], results: list[FileResult]) -> None:
    """Write inputs.json atomically (a crash never leaves half a manifest)."""
    data = dict(header, format=MANIFEST_FORMAT, updated=_now(), files=[asdict(r) for r in results])
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    os.replace(temporary, path)


def _previous_records(path: str) -> dict[str, dict[str, Any]]:
    """The last run's per-file records by URL (empty if there is no readable manifest)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return {f["url"]: f for f in data.get("files", []) if isinstance(f, dict) and "url" in f}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def read_input_list(path: str) -> list[str]:
    """Absolute paths of the files listed in ``path``: an inputs.json written by fetch-cc (every
    file must be complete) or a text file with one path per line (``#`` comments and blank lines
    ignored). Relative paths resolve against the list file's folder."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise InputListError(f"--inputs-from: cannot read {path}: {error}") from None
    folder = os.path.dirname(os.path.abspath(path))
    if text.lstrip().startswith("{"):
        entries = _manifest_entries(path, text)
    else:
        lines = [line.strip() for line in text.splitlines()]
        entries = [(line, None) for line in lines if line and not line.startswith("#")]
    if not entries:
        raise InputListError(f"--inputs-from: {path} lists no files")
    paths, problems = [], []
    for name, size in entries:
        full = os.path.normpath(os.path.join(folder, os.path.expanduser(name)))
        if not os.path.isfile(full):
            problems.append(f"{name} (no such file: {full})")
        elif size is not None and os.path.getsize(full) != size:
            problems.append(f"{name} ({os.path.getsize(full)} bytes, the manifest says {size})")
        paths.append(full)
    if problems:
        raise InputListError(f"--inputs-from {path}: {len(problems)} listed file(s) unusable: " + "; ".join(problems))
    return paths


def _manifest_entries(path: str, text: str) -> list[tuple[str, int | None]]:
    try:
        data = json.loads(text)
        files = data["files"]
        if not isinstance(files, list):
            raise TypeError("'files' is not a list")
        entries = [(str(f["path"]), f.get("bytes"), f.get("status"), f.get("error")) for f in files]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InputListError(f"--inputs-from: {path} is not an inputs manifest: {error!r}") from None
    unfinished = [
        f"{name} ({status}{': ' + error if error else ''})" for name, _, status, error in entries if status != COMPLETE
    ]
    if unfinished:
        raise InputListError(
            f"--inputs-from {path}: {len(unfinished)} file(s) not downloaded completely: "
            + "; ".join(unfinished)
            + " (re-run curate fetch-cc, or list only the complete files)"
        )
    return [(name, size) for name, size, _, _ in entries]


# ---------------------------------------------------------------- the whole job


def fetch_listing(
    crawl: str, base_url: str, out_dir: str, policy: RetryPolicy, progress: Progress, listing: str = LISTING_NAME
) -> list[str]:
    """The crawl's WARC paths (or those of another ``listing``, e.g. cc-index-table.paths.gz). The
    listing is kept in DIR as CRAWL.LISTING (a published crawl's listing never changes; the name
    keeps crawls sharing a DIR apart)."""
    name = f"{crawl}.{listing}"
    target = _Target(file_url(base_url, listing_path(crawl, listing)), os.path.join(out_dir, name), name)
    if not os.path.isfile(target.final):
        result = download_file(target, policy, progress, threading.Event())
        if result.status != COMPLETE:
            raise FetchError(f"cannot fetch the file list of {crawl}: {result.error}")
    try:
        with open(target.final, "rb") as handle:
            return parse_listing(handle.read())
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as error:
        _remove(target.final)  # so a re-run fetches it again
        raise FetchError(f"{target.url} is not a gzipped list of paths: {error}") from None


def fetch_crawl(
    crawl: str,
    *,
    out_dir: str,
    segments: int | None = None,
    select: tuple[str, ...] | list[str] = (),
    base_url: str = DEFAULT_BASE_URL,
    parallel: int = 4,
    policy: RetryPolicy = RetryPolicy(),
    stream: TextIO | None = None,
    progress_interval: float = 10.0,
) -> FetchSummary:
    """Download the selected WARC files of ``crawl`` into ``out_dir`` and write its inputs.json.

    Raises SelectionError for a bad choice of files, FetchError if the listing cannot be had.
    """
    check_crawl(crawl)
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    manifest_path = os.path.join(out_dir, MANIFEST_NAME)
    # The listing fetch logs lines only; the bar is for the WARC files.
    log = Progress(0, stream, progress_interval, bar=False)
    paths = select_paths(fetch_listing(crawl, base_url, out_dir, policy, log), segments, select)
    header = {
        "crawl": crawl,
        "base_url": base_url,
        "listing": file_url(base_url, listing_path(crawl)),
        "selection": {"segments": segments, "select": list(select)},
    }
    targets = [
        _Target(file_url(base_url, p), os.path.join(out_dir, os.path.basename(p)), os.path.basename(p)) for p in paths
    ]
    job = _FetchJob(manifest_path, header, targets, policy, Progress(len(targets), stream, progress_interval))
    summary = FetchSummary(crawl, out_dir, manifest_path, job.results)
    try:
        _run_bounded(job.fetch, len(targets), parallel, job.stop)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        job.finish()
    return summary


class _FetchJob:
    """The downloads of one fetch_crawl: what its threads share, and the manifest they keep current."""

    def __init__(
        self,
        manifest_path: str,
        header: dict[str, Any],
        targets: list[_Target],
        policy: RetryPolicy,
        progress: Progress,
    ) -> None:
        self.manifest_path = manifest_path
        self.header = header
        self.targets = targets
        self.policy = policy
        self.progress = progress
        self.previous = _previous_records(manifest_path)
        # Until a file is looked at again, the manifest keeps what the last run said about it.
        self.results = [_from_record(t, self.previous.get(t.url)) for t in targets]
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._last_write = 0.0

    def fetch(self, index: int) -> FileResult:
        """Skip or download file ``index`` and record its outcome."""
        target = self.targets[index]
        result = already_complete(target, self.previous.get(target.url), self.policy)
        if result is not None:
            self.progress.finished_file(COMPLETE, ran=False)
        else:
            result = self._download(target)
        self._record(index, result)
        return result

    def _download(self, target: _Target) -> FileResult:
        progress = self.progress
        progress.started_file()
        offset = _size(target.part)
        progress.event(f"{target.name}: downloading" + (f", resuming at byte {offset}" if offset else ""))
        result = download_file(target, self.policy, progress, self.stop)
        progress.finished_file(result.status)
        if result.status == COMPLETE:
            checksum = f", md5 {result.md5} ({result.md5_source})" if result.md5 else ""
            progress.event(f"{target.name}: done, {result.bytes} bytes{checksum}")
        elif result.status == FAILED:
            progress.event(f"{target.name}: FAILED: {result.error}")
        return result

    def _record(self, index: int, result: FileResult) -> None:
        with self._lock:
            self.results[index] = result
            # At most every 2 s: rewriting it after each of thousands of files would cost O(n^2).
            if time.monotonic() - self._last_write >= 2.0:
                write_manifest(self.manifest_path, self.header, self.results)
                self._last_write = time.monotonic()

    def finish(self) -> None:
        """Close the progress display and write the final manifest."""
        self.progress.close()
        with self._lock:
            write_manifest(self.manifest_path, self.header, self.results)


def _from_record(target: _Target, record: dict[str, Any] | None) -> FileResult:
    """A file's result as an earlier run recorded it, or pending."""
    result = FileResult(url=target.url, path=target.name)
    for name in ("status", "bytes", "md5", "md5_source", "etag", "attempts", "error"):
        if record and name in record:
            setattr(result, name, record[name])
    return result


def _run_bounded(work: Callable[[int], FileResult], count: int, parallel: int, stop: threading.Event) -> None:
    """Run ``work(i)`` for every index on at most ``parallel`` threads; on Ctrl-C, tell running
    downloads to stop (they leave their parts to resume) and wait for them."""
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="fetch-cc") as pool:
        futures: set[Future[FileResult]] = {pool.submit(work, i) for i in range(count)}
        try:
            while futures:
                done, futures = wait(futures, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()  # re-raise bugs instead of hiding them
        except KeyboardInterrupt:
            stop.set()
            for future in futures:
                future.cancel()
            raise
