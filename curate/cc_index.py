"""Common Crawl's columnar URL index: which records to fetch, and in how few Range requests.

The index of a crawl is a set of Parquet files listed in ``crawl-data/CRAWL/cc-index-table.paths.gz``
under ``cc-index/table/cc-main/warc/crawl=CRAWL/subset=SUBSET/part-*.parquet`` (hive partitions:
``crawl`` and ``subset`` are path components, not stored columns). One row per capture; the
columns used here are ``url``, ``url_host_registered_domain``, ``fetch_status``,
``content_languages`` (CLD2's up to three ISO 639-3 codes, most prominent first, comma-separated,
e.g. ``zho,eng``), ``warc_filename``, ``warc_record_offset`` and ``warc_record_length``.

``query_index`` reads those columns only and pushes the filters down to pyarrow (row groups whose
statistics exclude a domain are skipped; rows are sorted by SURT key, so a domain filter skips
most of a file). ``plan_requests`` groups the selected records per WARC file and merges
neighbours into ranges, so one HTTP request brings many records.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

INDEX_LISTING = "cc-index-table.paths.gz"
INDEX_ROOT = "cc-index/table/cc-main/warc"
COLUMNS = ["url", "content_languages", "warc_filename", "warc_record_offset", "warc_record_length"]
RECORD_ID = "warc_record_id"
"""The record's UUID (16 bytes), in indexes since CC-MAIN-2026-30: checked against the bytes when there."""
DEFAULT_MAX_GAP = 64 * 1024
"""Bytes of unwanted records a request may carry to save a request: at ~50 ms per request and
~10 MB/s per connection, a request costs about 500 KB of transfer, so 64 KiB gaps are cheap."""


def warc_subset(paths: list[str]) -> list[str]:
    """The index files of the ``warc`` subset (the listing also names ``robotstxt`` and
    ``crawldiagnostics``, whose records are no pages)."""
    return [p for p in paths if "/subset=warc/" in p]


def index_filter(
    languages: list[str],
    domains: list[str] = (),
    url_prefixes: list[str] = (),
    subset: bool = True,
    warc_files: list[str] | None = None,
) -> ds.Expression:
    """Rows fetched with status 200 whose content_languages names any of ``languages`` (anywhere in
    the list: ``zho`` matches ``eng,zho``), optionally only of ``domains`` (registered domains, e.g.
    ``163.com``), URLs starting with one of ``url_prefixes`` or records of the WARC files
    ``warc_files`` (paths in the crawl)."""
    if not languages:
        raise ValueError("give at least one language")
    # Codes are three letters between commas, so a substring test cannot match across two codes.
    wanted = _any(pc.match_substring(pc.field("content_languages"), language) for language in languages)
    expression = (pc.field("fetch_status") == 200) & wanted
    if subset:
        expression &= pc.field("subset") == "warc"
    if domains:
        expression &= pc.field("url_host_registered_domain").isin(list(domains))
    if url_prefixes:
        expression &= _any(pc.starts_with(pc.field("url"), prefix) for prefix in url_prefixes)
    if warc_files is not None:
        expression &= pc.field("warc_filename").isin(list(warc_files))
    return expression


def _any(expressions: object) -> ds.Expression:
    result = None
    for expression in expressions:  # type: ignore[attr-defined]
        result = expression if result is None else result | expression
    return result


def _index_dataset(files: list[str], base_dir: str | None) -> ds.Dataset:
    partitioning = ds.partitioning(pa.schema([("crawl", pa.string()), ("subset", pa.string())]), flavor="hive")
    return ds.dataset(files, format="parquet", partitioning=partitioning, partition_base_dir=base_dir)


def query_index(
    files: list[str],
    languages: list[str],
    domains: list[str] = (),
    url_prefixes: list[str] = (),
    base_dir: str | None = None,
    warc_files: list[str] | None = None,
) -> pa.Table:
    """The selected records of the index files ``files`` (local paths), sorted by WARC file and
    offset. ``base_dir`` is the folder holding ``crawl=.../subset=...``: the partition columns are
    read from the paths under it (the files do not store them). ``warc_files`` limits the records
    to those WARC files: a crawl in batches, each holding only its records in memory."""
    if not files:
        return pa.table({name: [] for name in COLUMNS})
    dataset = _index_dataset(files, base_dir)
    has_subset = "subset" in dataset.schema.names
    expression = index_filter(languages, domains, url_prefixes, subset=has_subset, warc_files=warc_files)
    columns = COLUMNS + ([RECORD_ID] if RECORD_ID in dataset.schema.names else [])
    table = dataset.to_table(columns=columns, filter=expression)
    return table.sort_by([("warc_filename", "ascending"), ("warc_record_offset", "ascending")])


def write_selection(
    files: list[str],
    languages: list[str],
    domains: list[str],
    url_prefixes: list[str],
    base_dir: str | None,
    path: str,
) -> int:
    """Scan the index once and stream the selected rows (the columns fetching needs) into the
    Parquet file ``path``; returns their number. Memory stays at a batch however large the
    selection; later runs and batches read ``path`` (a few % of the index) instead of the index."""
    dataset = _index_dataset(files, base_dir)
    has_subset = "subset" in dataset.schema.names
    expression = index_filter(languages, domains, url_prefixes, subset=has_subset)
    columns = COLUMNS + ([RECORD_ID] if RECORD_ID in dataset.schema.names else [])
    scanner = dataset.scanner(columns=columns, filter=expression)
    temporary = f"{path}.tmp{os.getpid()}"
    rows = 0
    with pq.ParquetWriter(temporary, scanner.projected_schema) as writer:
        for batch in scanner.to_batches():
            if batch.num_rows:
                writer.write_batch(batch)
                rows += batch.num_rows
    os.replace(temporary, path)  # only a whole selection is ever found under its name
    return rows


def read_selection(path: str, warc_files: list[str] | None = None) -> pa.Table:
    """The rows of a write_selection file (of ``warc_files`` only, if given), sorted by WARC file
    and offset."""
    dataset = ds.dataset(path, format="parquet")
    expression = None if warc_files is None else pc.field("warc_filename").isin(list(warc_files))
    table = dataset.to_table(filter=expression)
    return table.sort_by([("warc_filename", "ascending"), ("warc_record_offset", "ascending")])


@dataclass(frozen=True)
class Record:
    """One record to fetch, where the index says it is."""

    url: str
    warc_filename: str
    offset: int
    length: int
    languages: str
    record_id: str | None = None
    """``<urn:uuid:...>`` as in the WARC header, when the index has it."""


@dataclass
class Request:
    """One Range request: bytes ``start`` to ``end`` (exclusive) of a WARC file, and the records
    in it (gaps between them are read and dropped)."""

    start: int
    end: int
    pieces: list[tuple[int, int]]
    """(start, end) of the bytes to keep, in order, within [start, end)."""

    @property
    def bytes(self) -> int:
        return self.end - self.start


def records_by_file(table: pa.Table) -> dict[str, list[Record]]:
    """Per WARC file (in order of name), its records by offset; a capture listed twice at one
    offset is kept once."""
    files: dict[str, list[Record]] = {}
    for row in table.to_pylist():
        record_id = row.get(RECORD_ID)
        record = Record(
            row["url"],
            row["warc_filename"],
            int(row["warc_record_offset"]),
            int(row["warc_record_length"]),
            row["content_languages"] or "",
            f"<urn:uuid:{uuid.UUID(bytes=record_id)}>" if record_id else None,
        )
        files.setdefault(record.warc_filename, []).append(record)
    for name, records in files.items():
        records.sort(key=lambda r: r.offset)
        unique = [r for i, r in enumerate(records) if i == 0 or r.offset != records[i - 1].offset]
        for before, after in zip(unique, unique[1:]):
            if before.offset + before.length > after.offset:
                raise ValueError(f"{name}: records at {before.offset} and {after.offset} overlap; index is corrupt")
        files[name] = unique
    return dict(sorted(files.items()))


def plan_requests(pieces: list[tuple[int, int]], max_gap: int = DEFAULT_MAX_GAP) -> list[Request]:
    """Merge sorted, disjoint byte pieces [start, end) into requests: a piece joins the previous
    request when at most ``max_gap`` bytes lie between them."""
    requests: list[Request] = []
    for start, end in pieces:
        if requests and start - requests[-1].end <= max_gap:
            requests[-1].end = end
            requests[-1].pieces.append((start, end))
        else:
            requests.append(Request(start, end, [(start, end)]))
    return requests


def remaining_pieces(records: list[Record], written: int) -> list[tuple[int, int]]:
    """The source byte pieces still missing from a mini-WARC of which ``written`` bytes exist: the
    mini-WARC is the records' bytes back to back, so its size says where to go on."""
    pieces = []
    position = 0
    for record in records:
        if position + record.length > written:
            skip = max(0, written - position)
            pieces.append((record.offset + skip, record.offset + record.length))
        position += record.length
    return pieces


def mini_warc_name(warc_filename: str, languages: list[str]) -> str:
    """``CC-MAIN-...-00000.warc.gz`` -> ``CC-MAIN-...-00000.zho.warc.gz``: the languages in the name
    keep it apart from the whole file (which --audit downloads into the same folder)."""
    base = os.path.basename(warc_filename)
    stem = base[: -len(".warc.gz")] if base.endswith(".warc.gz") else base
    return f"{stem}.{'+'.join(languages)}.warc.gz"
