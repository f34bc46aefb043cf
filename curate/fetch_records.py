"""``curate fetch-cc --languages zho``: only the records the columnar index selects, as mini-WARCs.

1. The crawl's index listing (``cc-index-table.paths.gz``) and the index files of its ``warc``
   subset are downloaded into ``DIR/cc-index/...`` by fetch_cc's machinery (resume, retries, size
   and ETag checks, ``DIR/index.json``). Why not read them over HTTP with range requests: the
   index is sorted by SURT key, not by language or WARC file, so a language query reads its
   columns in every row group anyway and range reads would save only the unread columns, while
   pyarrow's HTTP reads have no retries, resume or checksums; downloaded, every byte is verified
   and resumable, and a later query (other languages, domains) costs no network.
2. One scan of the index (``cc_index.write_selection``) streams the selected rows into
   ``DIR/selection-KEY.parquet``, which re-runs and later batches (--segments/--select) read
   instead of the index. Per WARC file the records are fetched in as few HTTP
   Range requests as ``--max-gap`` allows into ``NAME.LANGS.warc.gz``: each record's original
   bytes (Common Crawl writes every record as its own gzip member, so the concatenation is a
   valid WARC.gz), in offset order.
3. Per mini-WARC, like a whole file: bytes go to ``.part`` and a retry or re-run asks only for
   what is missing (the part's size says which record and byte it stopped at); 5xx, 429, timeouts,
   dropped connections and short bodies are retried; every response must be a 206 for exactly
   the range asked; and before the rename every record must inflate to exactly one gzip member
   holding a ``response`` record for the URL the index names, with a WARC-Record-ID.
4. ``NAME.LANGS.records.jsonl`` maps each record's offset in the mini-WARC (curate's
   ``source_offset``) to its original ``warc_filename`` and ``warc_record_offset``;
   ``DIR/inputs.json`` lists the mini-WARCs for ``curate run --inputs-from``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
import urllib.parse
import zlib
from dataclasses import dataclass, field
from typing import Any, TextIO

from curate.cc_index import (
    DEFAULT_MAX_GAP,
    INDEX_LISTING,
    INDEX_ROOT,
    Record,
    mini_warc_name,
    plan_requests,
    read_selection,
    records_by_file,
    remaining_pieces,
    warc_subset,
    write_selection,
)
from curate.fetch_cc import (
    COMPLETE,
    FAILED,
    MANIFEST_NAME,
    FetchError,
    FetchSummary,
    FileResult,
    Progress,
    RetryableError,
    RetryPolicy,
    _copy_body,
    _FetchJob,
    _open,
    _open_part,
    _remove,
    _run_bounded,
    _size,
    _Target,
    check_crawl,
    fetch_listing,
    file_url,
    listing_path,
    parse_content_range,
    select_paths,
    with_retries,
    write_manifest,
)

INDEX_MANIFEST = "index.json"
SIDECAR_SUFFIX = ".records.jsonl"
DEFAULT_POLICY = RetryPolicy()


@dataclass
class RecordsResult(FileResult):
    """One mini-WARC's outcome, as written to inputs.json (``url`` is the source WARC's)."""

    source: str = ""
    """The source WARC's path in the crawl (the index's warc_filename)."""
    records: int = 0
    index: str = ""
    """The sidecar mapping offsets in the mini-WARC to the source's, relative to the manifest."""
    requests: int = 0
    """Range requests made in the last run."""


@dataclass
class _MiniTarget:
    url: str
    final: str
    name: str
    source: str
    records: list[Record] = field(default_factory=list)

    @property
    def part(self) -> str:
        return self.final + ".part"

    @property
    def sidecar(self) -> str:
        return sidecar_of(self.final)

    @property
    def total(self) -> int:
        return sum(r.length for r in self.records)

    @property
    def plan_path(self) -> str:
        return self.part + ".plan"

    @property
    def plan(self) -> str:
        """What the part holds, as a digest of the records' offsets and lengths: a part is only
        resumed for the same records."""
        digest = hashlib.sha1(usedforsecurity=False)
        for record in self.records:
            digest.update(f"{record.offset}+{record.length}\n".encode())
        return digest.hexdigest()


def _read_plan(target: _MiniTarget) -> str | None:
    try:
        with open(target.plan_path, encoding="ascii") as handle:
            return handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _write_plan(target: _MiniTarget) -> None:
    try:
        with open(target.plan_path, "w", encoding="ascii") as handle:
            handle.write(target.plan + "\n")
    except OSError as error:
        raise FetchError(f"cannot write {target.plan_path}: {error}") from None


class _PieceSink:
    """A write target for one coalesced response: keeps the bytes of the request's pieces and drops
    the gaps between them (records nobody asked for)."""

    def __init__(self, handle: Any, start: int, pieces: list[tuple[int, int]]) -> None:
        self.handle = handle
        self.name = handle.name
        self.position = start
        self.pieces = pieces
        self._next = 0

    def write(self, block: bytes) -> None:
        end = self.position + len(block)
        while self._next < len(self.pieces):
            low, high = self.pieces[self._next]
            low, high = max(low, self.position), min(high, end)
            if low < high:
                self.handle.write(block[low - self.position : high - self.position])
            if self.pieces[self._next][1] > end:
                break  # this piece goes on in the next block
            self._next += 1
        self.position = end

    def flush(self) -> None:
        self.handle.flush()


class RecordMismatch(FetchError):
    """The bytes at an index's offset are not the record it names (the index and file disagree)."""


def check_record(data: bytes, record: Record) -> str:
    """The WARC-Record-ID of ``data``, which must be exactly one gzip member holding a response
    record for ``record.url`` (and ``record.record_id``, when the index gives it). Damaged bytes
    raise RetryableError, a different record RecordMismatch."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        # The header comes first; inflating the whole member checks its CRC and that it ends
        # exactly where the index says the record ends.
        body = inflater.decompress(data)
        body += inflater.flush()
    except zlib.error as error:
        raise RetryableError(f"record at {record.offset} of {record.warc_filename}: bad gzip: {error}") from None
    if not inflater.eof or inflater.unused_data:
        raise RetryableError(
            f"record at {record.offset} of {record.warc_filename}: not one whole gzip member of {record.length} bytes"
        )
    head = body.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").split("\r\n")
    fields = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    where = f"record at {record.offset} of {record.warc_filename}"
    if not head[0].startswith("WARC/1."):
        raise RecordMismatch(f"{where}: not a WARC record")
    if fields.get("warc-type") != "response":
        raise RecordMismatch(f"{where}: WARC-Type {fields.get('warc-type')!r}, not response")
    # WARC 1.1 writes <...> around the URI; Common Crawl writes it bare.
    if fields.get("warc-target-uri", "").strip("<>") != record.url:
        raise RecordMismatch(
            f"{where}: WARC-Target-URI {fields.get('warc-target-uri')!r}, the index says {record.url!r}"
        )
    if not fields.get("warc-record-id"):
        raise RecordMismatch(f"{where}: no WARC-Record-ID")
    if record.record_id and fields["warc-record-id"] != record.record_id:
        raise RecordMismatch(f"{where}: WARC-Record-ID {fields['warc-record-id']}, the index says {record.record_id}")
    return fields["warc-record-id"]


def read_sidecar(path: str) -> dict[int, dict[str, Any]]:
    """A mini-WARC's sidecar by offset in the mini-WARC: what ``source_offset`` of a document read
    from it maps to (``warc_filename``, ``warc_record_offset``, ``url``, ``record_id``)."""
    with open(path, encoding="utf-8") as handle:
        return {entry["offset"]: entry for entry in map(json.loads, handle)}


def sidecar_of(mini_warc: str) -> str:
    """The sidecar next to a mini-WARC."""
    return mini_warc[: -len(".warc.gz")] + SIDECAR_SUFFIX


def _attempt_records(
    target: _MiniTarget,
    policy: RetryPolicy,
    max_gap: int,
    progress: Progress,
    stop: threading.Event,
    result: RecordsResult,
) -> RecordsResult:
    """Fetch what the part lacks, request by request; then verify and rename. Raises on failure."""
    written = _size(target.part) if os.path.exists(target.part) else 0
    if written > target.total or _read_plan(target) != target.plan:
        # A part of another selection (other filters, a newer index) is no prefix of this one.
        _remove(target.part)
        written = 0
    if not written:
        _write_plan(target)
    requests = plan_requests(remaining_pieces(target.records, written), max_gap)
    with _open_part(target.part, written) as handle:
        for request in requests:
            result.requests += 1
            response = _open(target.url, policy, request.start, end=request.end - 1)
            with response:
                status, headers = response.status, response.headers
                if status == 416:
                    raise FetchError(
                        f"HTTP 416: bytes {request.start}-{request.end - 1} are past the end of {target.url}"
                    )
                if status != 206:
                    # A 200 would send the whole ~1 GB file for each range asked.
                    raise FetchError(f"HTTP {status} instead of 206 for a Range request: {target.url}")
                start, end, _ = parse_content_range(headers.get("Content-Range"))
                if (start, end) != (request.start, request.end - 1):
                    raise RetryableError(
                        f"asked for bytes {request.start}-{request.end - 1}, got {headers.get('Content-Range')!r}"
                    )
                _copy_body(response, _PieceSink(handle, request.start, request.pieces), request.bytes, progress, stop)
    return _finish_records(target, result)


def _finish_records(target: _MiniTarget, result: RecordsResult) -> RecordsResult:
    """Check the part record by record, write the sidecar, rename the part into place."""
    size = _size(target.part)
    if size != target.total:
        _remove(target.part)
        raise RetryableError(f"size mismatch: have {size} bytes, the records add up to {target.total}; part deleted")
    lines = []
    position = 0
    with open(target.part, "rb") as handle:
        for record in target.records:
            data = handle.read(record.length)
            try:
                record_id = check_record(data, record)
            except (RetryableError, FetchError):
                _remove(target.part)
                raise
            lines.append(
                {
                    "offset": position,
                    "length": record.length,
                    "url": record.url,
                    "record_id": record_id,
                    "warc_filename": record.warc_filename,
                    "warc_record_offset": record.offset,
                    "content_languages": record.languages,
                }
            )
            position += record.length
    temporary = f"{target.sidecar}.tmp{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as out:
        out.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    os.replace(temporary, target.sidecar)
    # The WARC last: a final mini-WARC always has its sidecar.
    os.replace(target.part, target.final)
    _remove(target.plan_path)
    result.status, result.bytes, result.error = COMPLETE, size, None
    return result


def download_records(
    target: _MiniTarget,
    policy: RetryPolicy,
    max_gap: int,
    progress: Progress,
    stop: threading.Event,
    rng: random.Random | None = None,
) -> RecordsResult:
    """One mini-WARC with resume, retries and verification; never raises for HTTP problems."""
    result = _result(target)
    return with_retries(
        lambda: _attempt_records(target, policy, max_gap, progress, stop, result),
        target,
        result,
        policy,
        progress,
        stop,
        rng,
    )


def _result(target: _MiniTarget) -> RecordsResult:
    return RecordsResult(
        url=target.url,
        path=target.name,
        source=target.source,
        records=len(target.records),
        index=os.path.basename(target.sidecar),
    )


def _already_complete(target: _MiniTarget) -> RecordsResult | None:
    """A final mini-WARC of this selection's size whose sidecar lists this selection's records is
    complete: it was renamed into place only after every record checked out. (One of another
    selection, e.g. other --domain filters, is fetched again and replaced.)"""
    if not (os.path.isfile(target.final) and os.path.isfile(target.sidecar)):
        return None
    if _size(target.final) != target.total:
        return None
    try:
        listed = [(e["warc_record_offset"], e["length"]) for e in read_sidecar(target.sidecar).values()]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if listed != [(r.offset, r.length) for r in target.records]:
        return None
    result = _result(target)
    result.status, result.bytes = COMPLETE, target.total
    return result


class _RecordsJob:
    """The mini-WARC downloads of one fetch: their threads' shared state and the manifest."""

    def __init__(
        self,
        manifest_path: str,
        header: dict[str, Any],
        targets: list[_MiniTarget],
        policy: RetryPolicy,
        max_gap: int,
        progress: Progress,
    ) -> None:
        self.manifest_path = manifest_path
        self.header = header
        self.targets = targets
        self.policy = policy
        self.max_gap = max_gap
        self.progress = progress
        self.results: list[FileResult] = [_result(t) for t in targets]
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._last_write = 0.0

    def fetch(self, index: int) -> FileResult:
        target = self.targets[index]
        result = _already_complete(target)
        if result is not None:
            self.progress.finished_file(COMPLETE, ran=False)
        else:
            progress = self.progress
            progress.started_file()
            offset = _size(target.part)
            progress.event(
                f"{target.name}: {len(target.records)} records, {target.total} bytes"
                + (f", resuming at byte {offset}" if offset else "")
            )
            result = download_records(target, self.policy, self.max_gap, progress, self.stop)
            progress.finished_file(result.status)
            if result.status == COMPLETE:
                progress.event(f"{target.name}: done, {result.bytes} bytes in {result.requests} range requests")
            elif result.status == FAILED:
                progress.event(f"{target.name}: FAILED: {result.error}")
        with self._lock:
            self.results[index] = result
            if time.monotonic() - self._last_write >= 2.0:
                write_manifest(self.manifest_path, self.header, self.results)
                self._last_write = time.monotonic()
        return result

    def finish(self) -> None:
        self.progress.close()
        with self._lock:
            write_manifest(self.manifest_path, self.header, self.results)


def fetch_index(
    crawl: str,
    out_dir: str,
    base_url: str,
    parallel: int,
    policy: RetryPolicy,
    index_parts: int | None,
    stream: TextIO | None,
    progress_interval: float,
) -> list[str]:
    """Local paths of the crawl's warc-subset index files, downloaded (or found complete) under
    ``out_dir``, in listing order. Raises FetchError if any cannot be had."""
    log = Progress(0, stream, progress_interval, bar=False)
    paths = warc_subset(fetch_listing(crawl, base_url, out_dir, policy, log, listing=INDEX_LISTING))
    if not paths:
        raise FetchError(f"{file_url(base_url, listing_path(crawl, INDEX_LISTING))} names no warc-subset index files")
    paths = paths[:index_parts] if index_parts is not None else paths
    targets = [_Target(file_url(base_url, p), os.path.join(out_dir, p), p) for p in paths]
    for target in targets:
        os.makedirs(os.path.dirname(target.final), exist_ok=True)
    header = {"crawl": crawl, "base_url": base_url, "listing": file_url(base_url, listing_path(crawl, INDEX_LISTING))}
    progress = Progress(len(targets), stream, progress_interval)
    job = _FetchJob(os.path.join(out_dir, INDEX_MANIFEST), header, targets, policy, progress)
    try:
        _run_bounded(job.fetch, len(targets), parallel, job.stop)
    finally:
        job.finish()
    failed = [r for r in job.results if r.status != COMPLETE]
    if failed:
        raise FetchError(
            f"{len(failed)} index file(s) not downloaded: "
            + "; ".join(f"{r.path} ({r.status}: {r.error})" for r in failed)
            + " (re-run to resume)"
        )
    return [t.final for t in targets]


def fetch_records(
    crawl: str,
    *,
    out_dir: str,
    languages: list[str],
    domains: list[str] = (),
    url_prefixes: list[str] = (),
    index_parts: int | None = None,
    max_gap: int = DEFAULT_MAX_GAP,
    audit: int | None = None,
    segments: int | None = None,
    select: tuple[str, ...] | list[str] = (),
    base_url: str,
    parallel: int = 4,
    policy: RetryPolicy = DEFAULT_POLICY,
    stream: TextIO | None = None,
    progress_interval: float = 10.0,
) -> FetchSummary:
    """Download the records of ``crawl`` the index selects into one mini-WARC per source WARC file
    in ``out_dir``, and write its inputs.json; with ``audit``, also audit that many whole WARC files
    (cc_audit). ``segments``/``select`` (as for whole files) limit it to those WARC files of the
    crawl's listing. Raises FetchError if the index cannot be had, SelectionError for a bad choice."""
    check_crawl(crawl)
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    log = Progress(0, stream, progress_interval, bar=False)
    warc_files = _chosen_files(crawl, base_url, out_dir, policy, log, segments, select)
    files = fetch_index(crawl, out_dir, base_url, parallel, policy, index_parts, stream, progress_interval)
    selection_path = _selection(files, languages, domains, url_prefixes, out_dir, log)
    by_file = records_by_file(read_selection(selection_path, warc_files))
    targets = _mini_targets(by_file, languages, base_url, out_dir)
    selection = {"languages": list(languages), "domains": list(domains), "url_prefixes": list(url_prefixes)}
    selection.update(index_parts=index_parts, segments=segments, select=list(select), max_gap=max_gap)
    header = {
        "crawl": crawl,
        "base_url": base_url,
        "listing": file_url(base_url, listing_path(crawl, INDEX_LISTING)),
        "selection": selection,
        "index_files": len(files),
        "records": sum(len(t.records) for t in targets),
    }
    manifest_path = os.path.join(out_dir, MANIFEST_NAME)
    progress = Progress(len(targets), stream, progress_interval)
    progress.event(f"{crawl}: index selects {header['records']} records in {len(targets)} WARC files")
    job = _RecordsJob(manifest_path, header, targets, policy, max_gap, progress)
    summary = FetchSummary(crawl, out_dir, manifest_path, job.results)
    try:
        _run_bounded(job.fetch, len(targets), parallel, job.stop)
    except KeyboardInterrupt:
        summary.interrupted = True
        return summary
    finally:
        job.finish()
    if audit:
        # Within a batch, the audit takes its first files: the index was asked about those only.
        audited = tuple(warc_files) if warc_files is not None else ()
        summary.audit = run_audit(
            crawl, out_dir, audit, audited, by_file, languages, index_parts is None, base_url, parallel, policy, stream
        )
    return summary


def _selection(
    files: list[str], languages: list[str], domains: list[str], url_prefixes: list[str], out_dir: str, log: Progress
) -> str:
    """DIR/selection-KEY.parquet: the index's rows for these filters, written by one scan of the
    index and reused by re-runs and later batches (KEY names the filters and index files)."""
    key = json.dumps(
        [sorted(os.path.relpath(f, out_dir) for f in files), list(languages), list(domains), list(url_prefixes)]
    )
    path = os.path.join(
        out_dir, f"selection-{hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:12]}.parquet"
    )
    if not os.path.isfile(path):
        log.event(f"scanning {len(files)} index files for {','.join(languages)} records")
        rows = write_selection(files, languages, domains, url_prefixes, os.path.join(out_dir, INDEX_ROOT), path)
        log.event(f"{rows} records selected: {os.path.basename(path)}")
    return path


def _chosen_files(
    crawl: str,
    base_url: str,
    out_dir: str,
    policy: RetryPolicy,
    log: Progress,
    segments: int | None,
    select: tuple[str, ...] | list[str],
) -> list[str] | None:
    """The WARC files --segments/--select choose from warc.paths.gz, or None (the whole crawl)."""
    if segments is None and not select:
        return None
    return select_paths(fetch_listing(crawl, base_url, out_dir, policy, log), segments, select)


def _mini_targets(
    by_file: dict[str, list[Record]], languages: list[str], base_url: str, out_dir: str
) -> list[_MiniTarget]:
    targets = []
    for source, records in by_file.items():
        name = mini_warc_name(source, languages)
        targets.append(_MiniTarget(file_url(base_url, source), os.path.join(out_dir, name), name, source, records))
    if len({t.name for t in targets}) != len(targets):
        raise FetchError("two selected WARC files share a name; Common Crawl's names are unique within a crawl")
    return targets


def run_audit(
    crawl: str,
    out_dir: str,
    count: int,
    select: tuple[str, ...],
    by_file: dict[str, list[Record]],
    languages: list[str],
    complete_index: bool,
    base_url: str,
    parallel: int,
    policy: RetryPolicy,
    stream: TextIO | None,
) -> dict[str, Any]:
    """Download the first ``count`` WARC files of the crawl's listing (of ``select``, if given)
    whole into DIR/audit (with
    fetch_cc's own job: its inputs.json stays apart from the mini-WARCs'), audit them, and write
    DIR/audit/report.json."""
    from curate.cc_audit import REPORT_NAME, audit
    from curate.fetch_cc import fetch_crawl

    audit_dir = os.path.join(out_dir, "audit")
    fetched = fetch_crawl(
        crawl,
        out_dir=audit_dir,
        segments=count,
        select=select,
        base_url=base_url,
        parallel=parallel,
        policy=policy,
        stream=stream,
    )
    prefix = base_url.rstrip("/") + "/"
    files = {
        urllib.parse.unquote(r.url.removeprefix(prefix)): os.path.join(audit_dir, r.path)
        for r in fetched.results
        if r.status == COMPLETE
    }
    report = audit(files, by_file, languages, complete_index).as_dict()
    report["failed"] = [{"url": r.url, "error": r.error} for r in fetched.results if r.status != COMPLETE]
    report["report"] = os.path.join(audit_dir, REPORT_NAME)
    temporary = f"{report['report']}.tmp{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(temporary, report["report"])
    return report
