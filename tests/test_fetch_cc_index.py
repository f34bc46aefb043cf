"""curate fetch-cc --languages: Common Crawl's columnar index, built here in its schema from the real
WARC files in ../shared/data (real offsets and lengths, languages from curate's own cheap
language test), served with those files by test_fetch_cc's local server (Range requests, faults)."""

from __future__ import annotations

import gzip
import io
import json
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import REPO
from fastwarc.warc import ArchiveIterator
from test_fetch_cc import CRAWL, FAST, FakeCommonCrawl, server  # noqa: F401 (server is a fixture)

from curate.cc_index import Record, plan_requests, remaining_pieces
from curate.cli import cli
from curate.fetch_records import _PieceSink, read_sidecar, sidecar_of
from stages.langid_prefilter import cheap_text, han_share

INDEX_LISTING = f"crawl-data/{CRAWL}/cc-index-table.paths.gz"
INDEX_DIR = f"cc-index/table/cc-main/warc/crawl={CRAWL}"
# The served files made of one gzip member per record, as Common Crawl writes them (00005 is a
# clipped record: no index would point into it).
INDEXED = ("00000", "00001", "00002", "00003", "00004")
# Common Crawl's columnar schema (the columns a query may touch, with their published types).
SCHEMA = pa.schema(
    [
        ("url_surtkey", pa.string()),
        ("url", pa.string()),
        ("url_host_name", pa.string()),
        ("url_host_registered_domain", pa.string()),
        ("url_protocol", pa.string()),
        ("fetch_time", pa.timestamp("ms", tz="UTC")),
        ("fetch_status", pa.int16()),
        ("content_mime_type", pa.string()),
        ("content_mime_detected", pa.string()),
        ("content_charset", pa.string()),
        ("content_languages", pa.string()),
        ("warc_filename", pa.string()),
        ("warc_record_offset", pa.int32()),
        ("warc_record_length", pa.int32()),
        ("warc_segment", pa.string()),
    ]
)
# Indexes since CC-MAIN-2026-30 also carry the record's UUID.
SCHEMA_WITH_ID = SCHEMA.append(pa.field("warc_record_id", pa.binary()))


def _uuid_bytes(record_id: str) -> bytes | None:
    try:
        return uuid.UUID(record_id.strip("<>").removeprefix("urn:uuid:")).bytes
    except ValueError:
        return None


def _languages(payload: bytes) -> tuple[int, str | None, str]:
    """HTTP status, Content-Type and a CLD2-like content_languages for a response record's payload."""
    head, _, body = payload.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    content_type = next(
        (line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("content-type:")), None
    )
    # curate's own pre-pass test: Han share of the page's text nodes (>= 0.3 on the Chinese pages).
    share = han_share(cheap_text(body, content_type)) if body else 0.0
    languages = "zho" if share >= 0.7 else "zho,eng" if share >= 0.3 else "eng"
    return status, content_type, languages


def build_index_rows(state: FakeCommonCrawl) -> list[dict]:
    """One index row per response record of the indexed files, at its real offset and length."""
    rows = []
    for path, source in state.sources.items():
        if not any(f"-{number}-" in path for number in INDEXED):
            continue
        data = source.read_bytes()
        records = []
        for record in ArchiveIterator(io.BytesIO(data), parse_http=False):
            payload = record.reader.read() if record.headers.get("WARC-Type") == "response" else b""
            records.append((record.stream_pos, record.headers.get("WARC-Type"), record.headers, payload))
        for i, (offset, kind, headers, payload) in enumerate(records):
            if kind != "response":
                continue
            end = records[i + 1][0] if i + 1 < len(records) else len(data)
            url = headers.get("WARC-Target-URI").strip("<>")
            host = url.split("/")[2].split(":")[0].lower()
            status, content_type, languages = _languages(payload)
            rows.append(
                {
                    "url_surtkey": ",".join(reversed(host.split("."))) + ")" + url.split(host, 1)[-1],
                    "url": url,
                    "url_host_name": host,
                    "url_host_registered_domain": ".".join(host.split(".")[-2:]),
                    "url_protocol": url.split(":")[0],
                    "fetch_time": None,
                    "fetch_status": status,
                    "content_mime_type": content_type,
                    "content_mime_detected": "text/html",
                    "content_charset": None,
                    "content_languages": languages,
                    "warc_filename": path,
                    "warc_record_offset": offset,
                    "warc_record_length": end - offset,
                    "warc_segment": path.split("/")[3],
                    "warc_record_id": _uuid_bytes(headers.get("WARC-Record-ID")),
                }
            )
    return rows


def parquet_bytes(rows: list[dict], schema: pa.Schema = SCHEMA) -> bytes:
    sink = io.BytesIO()
    table = pa.Table.from_pylist(sorted(rows, key=lambda r: r["url_surtkey"]), schema=schema)
    pq.write_table(table, sink, row_group_size=8)  # several row groups, as a real index file has
    return sink.getvalue()


@pytest.fixture
def indexed(server: FakeCommonCrawl) -> tuple[FakeCommonCrawl, list[dict]]:  # noqa: F811
    """The server, also serving a columnar index of its WARC files: two warc-subset parts and a
    crawldiagnostics part that must be ignored."""
    rows = build_index_rows(server)
    half = len(rows) // 2
    parts = {
        f"{INDEX_DIR}/subset=warc/part-00000-test.c000.gz.parquet": rows[:half],
        f"{INDEX_DIR}/subset=warc/part-00001-test.c000.gz.parquet": rows[half:],
        # A 404 page listed as a Chinese page, in a subset a page fetch must never read.
        f"{INDEX_DIR}/subset=crawldiagnostics/part-00000-test.c000.gz.parquet": [
            dict(rows[0], fetch_status=404, content_languages="zho")
        ],
    }
    for path, part_rows in parts.items():
        server.files[path] = parquet_bytes(part_rows)
    server.files[INDEX_LISTING] = gzip.compress("".join(p + "\n" for p in parts).encode())
    return server, rows


def fetch(state: FakeCommonCrawl, out: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        ["fetch-cc", "--crawl", CRAWL, "--base-url", state.url, "--out", str(out), *FAST, *args],
        catch_exceptions=False,
    )
    return result.exit_code, result.output


def chinese(rows: list[dict], language: str = "zho") -> dict[str, list[dict]]:
    """The rows a --languages zho (or ``language``) query must select, per WARC file, by offset."""
    selected: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda r: (r["warc_filename"], r["warc_record_offset"])):
        if language in row["content_languages"] and row["fetch_status"] == 200:
            selected.setdefault(row["warc_filename"], []).append(row)
    return selected


def mini_name(path: str, languages: str = "zho") -> str:
    return path.rsplit("/", 1)[1].removesuffix(".warc.gz") + f".{languages}.warc.gz"


def warc_gets(state: FakeCommonCrawl, path: str) -> list[str | None]:
    return [r.range for r in state.gets(path)]


def check_mini_warcs(
    state: FakeCommonCrawl, out: Path, selected: dict[str, list[dict]], languages: str = "zho"
) -> None:
    """Every mini-WARC is its records' original bytes back to back, its sidecar says where each
    came from, and inputs.json lists them."""
    manifest = json.loads((out / "inputs.json").read_text(encoding="utf-8"))
    assert {f["path"] for f in manifest["files"]} == {mini_name(p, languages) for p in selected}
    for path, rows in selected.items():
        source = state.files[path]
        expected = b"".join(
            source[r["warc_record_offset"] : r["warc_record_offset"] + r["warc_record_length"]] for r in rows
        )
        mini = out / mini_name(path, languages)
        assert mini.read_bytes() == expected, path
        assert not Path(f"{mini}.part").exists()
        sidecar = [json.loads(line) for line in Path(str(mini).replace(".warc.gz", ".records.jsonl")).open()]
        position = 0
        for line, row in zip(sidecar, rows, strict=True):
            assert line["offset"] == position and line["length"] == row["warc_record_length"]
            assert (line["warc_filename"], line["warc_record_offset"]) == (path, row["warc_record_offset"])
            assert line["url"] == row["url"] and line["record_id"].startswith("<urn:")
            position += row["warc_record_length"]
        entry = next(f for f in manifest["files"] if f["path"] == mini.name)
        assert entry["status"] == "complete" and entry["bytes"] == len(expected)
        assert entry["source"] == path and entry["records"] == len(rows) and entry["url"] == state.url + path


# ---------------------------------------------------------------- the whole job


def test_fetches_only_the_chinese_records_byte_identical(indexed, tmp_path: Path) -> None:
    state, rows = indexed
    selected = chinese(rows)
    assert sum(len(r) for r in selected.values()) >= 8  # the excerpt's Chinese pages
    assert len(rows) > sum(len(r) for r in selected.values())  # and pages in other languages
    out = tmp_path / "cc"
    code, output = fetch(state, out, "--languages", "zho")
    assert code == 0, output
    check_mini_warcs(state, out, selected)
    # Files with no Chinese record are not touched, and crawldiagnostics is never downloaded.
    for path in state.sources:
        if path not in selected:
            assert not state.gets(path), path
    assert not any("crawldiagnostics" in r.path for r in state.requests)
    # The default gap joins each file's records (request and metadata records between them are
    # a few KB) into one Range request.
    for path, file_rows in selected.items():
        first, last = file_rows[0], file_rows[-1]
        assert warc_gets(state, path) == [
            f"bytes={first['warc_record_offset']}-{last['warc_record_offset'] + last['warc_record_length'] - 1}"
        ]
    (selection,) = out.glob("selection-*.parquet")  # the index scanned once, its rows kept
    assert pq.read_table(selection).num_rows == sum(len(r) for r in selected.values())
    data = json.loads((out / "inputs.json").read_text(encoding="utf-8"))
    assert data["selection"]["languages"] == ["zho"] and data["records"] == sum(len(r) for r in selected.values())

    # A re-run finds everything complete: no request at all (the listing and index are kept).
    before = len(state.requests)
    code, output = fetch(state, out, "--languages", "zho")
    assert code == 0, output
    assert state.requests[before:] == []
    # A sidecar that lists other records (a mini-WARC of another selection) is not complete.
    path = next(iter(selected))
    sidecar = out / mini_name(path).replace(".warc.gz", ".records.jsonl")
    lines = sidecar.read_text(encoding="utf-8").splitlines()
    sidecar.write_text("\n".join(lines[1:] + lines[:1]) + "\n", encoding="utf-8")
    code, output = fetch(state, out, "--languages", "zho")
    assert code == 0, output
    assert [r.path for r in state.requests[before:]] == [path]
    check_mini_warcs(state, out, selected)


def test_many_files_in_parallel(indexed, tmp_path: Path) -> None:
    state, rows = indexed
    selected = chinese(rows, "eng")  # the language every test file has pages in
    assert len(selected) == 5
    state.delay = 0.1
    out = tmp_path / "cc"
    code, output = fetch(state, out, "--languages", "eng", "--parallel", "2")
    assert code == 0, output
    check_mini_warcs(state, out, selected, "eng")
    for path in selected:
        assert len(state.gets(path)) == 1  # records a few hundred bytes apart: one request per file
    assert state.max_active == 2


def test_segments_and_select_make_batches(indexed, tmp_path: Path) -> None:
    state, rows = indexed
    selected = chinese(rows, "eng")
    paths = list(state.sources)
    out = tmp_path / "cc"
    code, output = fetch(state, out, "--languages", "eng", "--segments", "2")
    assert code == 0, output
    check_mini_warcs(state, out, {p: selected[p] for p in paths[:2]}, "eng")
    assert not any(state.gets(p) for p in paths[2:])
    # The next batch in the same folder: its own records only, the first batch's files untouched.
    before = len(state.requests)
    code, output = fetch(state, out, "--languages", "eng", "--select", "3", "--select", "4")
    assert code == 0, output
    check_mini_warcs(state, out, {p: selected[p] for p in paths[3:5]}, "eng")
    assert {r.path for r in state.requests[before:]} == set(paths[3:5])
    assert len(list(out.glob("selection-*.parquet"))) == 1  # both batches read one selection
    assert (out / mini_name(paths[0], "eng")).exists()


def test_max_gap_zero_asks_per_record(indexed, tmp_path: Path) -> None:
    state, rows = indexed
    selected = chinese(rows)
    out = tmp_path / "cc"
    code, output = fetch(state, out, "--languages", "zho", "--max-gap", "0")
    assert code == 0, output
    check_mini_warcs(state, out, selected)
    for path, file_rows in selected.items():
        # Neighbouring responses are separated by request/metadata records: one request each.
        assert warc_gets(state, path) == [
            f"bytes={r['warc_record_offset']}-{r['warc_record_offset'] + r['warc_record_length'] - 1}"
            for r in file_rows
        ]


def test_domain_and_url_prefix_filters(indexed, tmp_path: Path) -> None:
    state, rows = indexed
    selected = chinese(rows)
    row = next(iter(selected.values()))[0]
    domain = row["url_host_registered_domain"]
    expected = [r for rs in selected.values() for r in rs if r["url_host_registered_domain"] == domain]
    out = tmp_path / "cc"
    code, output = fetch(state, out, "--languages", "zho", "--domain", domain)
    assert code == 0, output
    assert json.loads((out / "inputs.json").read_text(encoding="utf-8"))["records"] == len(expected)
    out = tmp_path / "cc2"
    code, output = fetch(state, out, "--languages", "zho", "--url-prefix", row["url"])
    assert code == 0, output
    assert json.loads((out / "inputs.json").read_text(encoding="utf-8"))["records"] == sum(
        r["url"].startswith(row["url"]) for rs in selected.values() for r in rs
    )


def test_faults_are_retried_and_resumed(indexed, tmp_path: Path) -> None:
    state, rows = indexed
    selected = chinese(rows)
    path = max(selected, key=lambda p: len(selected[p]))  # the excerpt: most records, one request
    index_part = f"{INDEX_DIR}/subset=warc/part-00001-test.c000.gz.parquet"
    state.faults = {path: ["503", "drop", "reset", "429"], index_part: ["drop"]}
    out = tmp_path / "cc"
    code, output = fetch(state, out, "--languages", "zho", "--max-gap", "0")
    assert code == 0, output
    check_mini_warcs(state, out, selected)
    ranges = warc_gets(state, path)
    per_record = [
        f"bytes={r['warc_record_offset']}-{r['warc_record_offset'] + r['warc_record_length'] - 1}"
        for r in selected[path]
    ]
    # 503: asked again. The dropped and the reset response each sent half of what was asked:
    # the retry asks only for the rest of that record. 429: the same range asked again. Then
    # one request per further record.
    first = selected[path][0]
    start, length = first["warc_record_offset"], first["warc_record_length"]
    end = start + length - 1
    after_drop = start + length // 2
    after_reset = after_drop + (end + 1 - after_drop) // 2
    assert ranges == [
        per_record[0],
        per_record[0],
        f"bytes={after_drop}-{end}",
        f"bytes={after_reset}-{end}",
        f"bytes={after_reset}-{end}",
        *per_record[1:],
    ]
    # The index part was resumed like any whole file.
    assert [r.range for r in state.gets(index_part)][1].startswith("bytes=")
    assert "connection closed after" in output and "ConnectionResetError" in output


def test_corrupt_bytes_fail_the_record_check_and_are_fetched_again(indexed, tmp_path: Path) -> None:
    state, rows = indexed
    selected = chinese(rows)
    path = max(selected, key=lambda p: len(selected[p]))
    state.faults = {path: ["corrupt"]}  # one flipped byte, 100 bytes into the response
    out = tmp_path / "cc"
    code, output = fetch(state, out, "--languages", "zho")
    assert code == 0, output
    assert "bad gzip" in output or "not one whole gzip member" in output
    # The part is deleted and the records asked for again whole.
    assert len(state.gets(path)) == 2 and len(set(warc_gets(state, path))) == 1
    check_mini_warcs(state, out, selected)


def test_a_part_left_by_an_earlier_run_is_resumed(indexed, tmp_path: Path) -> None:
    state, rows = indexed
    selected = chinese(rows)
    path = max(selected, key=lambda p: len(selected[p]))
    file_rows = selected[path]
    start = file_rows[0]["warc_record_offset"]
    end = file_rows[-1]["warc_record_offset"] + file_rows[-1]["warc_record_length"]
    out = tmp_path / "cc"
    # The first run's one request breaks half way and it gives up (no retries): a part is left.
    state.faults = {path: ["drop!"]}
    code, output = fetch(state, out, "--languages", "zho", "--retries", "0")
    assert code == 1 and "gave up after 1 attempts" in output
    part = out / f"{mini_name(path)}.part"
    cut = start + (end - start) // 2  # the source byte the connection dropped at
    kept = [(r["warc_record_offset"], r["warc_record_offset"] + r["warc_record_length"]) for r in file_rows]
    written = sum(max(0, min(b, cut) - a) for a, b in kept)
    assert part.stat().st_size == written
    # The re-run asks only for the rest: from the cut if it fell in a record, else the next record.
    state.faults = {}
    resume = next(max(a, cut) for a, b in kept if b > cut)
    code, output = fetch(state, out, "--languages", "zho")
    assert code == 0, output
    assert f"resuming at byte {written}" in output
    assert warc_gets(state, path)[1:] == [f"bytes={resume}-{end - 1}"]
    check_mini_warcs(state, out, selected)
    assert not Path(f"{part}.plan").exists()


def test_a_part_of_another_selection_is_not_resumed(indexed, tmp_path: Path) -> None:
    state, rows = indexed
    selected = chinese(rows)
    path = max(selected, key=lambda p: len(selected[p]))
    out = tmp_path / "cc"
    out.mkdir()
    # Left by a run with other filters: its bytes are no prefix of this selection's.
    part = out / f"{mini_name(path)}.part"
    part.write_bytes(state.files[path][:5000])
    Path(f"{part}.plan").write_text("another selection\n", encoding="ascii")
    code, output = fetch(state, out, "--languages", "zho")
    assert code == 0, output
    first, last = selected[path][0], selected[path][-1]
    end = last["warc_record_offset"] + last["warc_record_length"] - 1
    assert warc_gets(state, path) == [f"bytes={first['warc_record_offset']}-{end}"]
    check_mini_warcs(state, out, selected)


def test_an_index_that_does_not_match_the_file_fails_it(indexed, tmp_path: Path) -> None:
    state, rows = indexed
    selected = chinese(rows)
    path = max(selected, key=lambda p: len(selected[p]))
    # Swap two records' URLs in the index: the bytes at each offset name the other URL.
    wrong = [dict(r) for r in rows]
    a, b = [r for r in wrong if r["warc_filename"] == path and "zho" in r["content_languages"]][:2]
    a["url"], b["url"] = b["url"], a["url"]
    for name in list(state.files):
        if "/subset=warc/" in name:
            del state.files[name]
    part = f"{INDEX_DIR}/subset=warc/part-00000-test.c000.gz.parquet"
    state.files[part] = parquet_bytes(wrong)
    state.files[INDEX_LISTING] = gzip.compress(f"{part}\n".encode())
    out = tmp_path / "cc"
    code, output = fetch(state, out, "--languages", "zho")
    assert code == 1
    assert "WARC-Target-URI" in output and "the index says" in output
    assert not (out / mini_name(path)).exists() and not (out / f"{mini_name(path)}.part").exists()
    entry = next(f for f in json.loads((out / "inputs.json").read_text())["files"] if f["source"] == path)
    assert entry["status"] == "failed" and entry["attempts"] == 1  # no retry: retrying cannot help


def test_record_ids_in_the_index_are_checked(indexed, tmp_path: Path) -> None:
    state, rows = indexed
    selected = chinese(rows)
    path = max(selected, key=lambda p: len(selected[p]))
    part = f"{INDEX_DIR}/subset=warc/part-00000-test.c000.gz.parquet"
    for name in [n for n in state.files if "/subset=" in n]:
        del state.files[name]
    state.files[INDEX_LISTING] = gzip.compress(f"{part}\n".encode())
    state.files[part] = parquet_bytes(rows, SCHEMA_WITH_ID)
    assert all(r["warc_record_id"] for rs in selected.values() for r in rs)
    code, output = fetch(state, tmp_path / "cc", "--languages", "zho")
    assert code == 0, output
    check_mini_warcs(state, tmp_path / "cc", selected)

    wrong = [dict(r) for r in rows]
    a, b = [r for r in wrong if r["warc_filename"] == path and "zho" in r["content_languages"]][:2]
    a["warc_record_id"], b["warc_record_id"] = b["warc_record_id"], a["warc_record_id"]
    state.files[part] = parquet_bytes(wrong, SCHEMA_WITH_ID)
    code, output = fetch(state, tmp_path / "other", "--languages", "zho")
    assert code == 1 and f"WARC-Record-ID <urn:uuid:{uuid.UUID(bytes=b['warc_record_id'])}>" in output


def test_usage_errors(indexed, tmp_path: Path) -> None:
    state, _ = indexed
    code, output = fetch(state, tmp_path / "cc", "--languages", ",")
    assert code == 2 and "ISO 639-3" in output
    code, output = fetch(state, tmp_path / "cc", "--languages", "zho", "--select", "no-such-file")
    assert code == 2 and "matches no path" in output
    code, output = fetch(state, tmp_path / "cc", "--segments", "2", "--domain", "163.com")
    assert code == 2 and "go with --languages" in output


# ---------------------------------------------------------------- curate run on the mini-WARCs


def test_run_reads_the_mini_warcs(indexed, tmp_path: Path) -> None:
    state, rows = indexed
    selected = chinese(rows)
    out = tmp_path / "cc"
    assert fetch(state, out, "--languages", "zho")[0] == 0
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
    assert sorted(Path(i["path"]).name for i in manifest["inputs"]) == sorted(mini_name(p) for p in selected)
    assert manifest["stages"][0]["docs_in"] == sum(len(r) for r in selected.values())
    # Every document kept or quarantined maps back, through the sidecar, to its source record.
    located = 0
    for shard in (tmp_path / "zh_web").rglob("*.parquet"):
        table = pq.read_table(shard)
        if "source_offset" not in table.schema.names:
            continue
        for source, offset, url in zip(*(table.column(c).to_pylist() for c in ("source", "source_offset", "url"))):
            entry = read_sidecar(sidecar_of(source))[offset]
            original = state.files[entry["warc_filename"]]
            assert entry["url"] == url
            data = original[entry["warc_record_offset"] : entry["warc_record_offset"] + entry["length"]]
            assert Path(source).read_bytes()[offset : offset + entry["length"]] == data
            located += 1
    assert located > 0


# ---------------------------------------------------------------- planning


def test_plan_requests_and_resume_points() -> None:
    pieces = [(100, 200), (250, 300), (1000, 1100)]
    assert [(r.start, r.end, r.pieces) for r in plan_requests(pieces, max_gap=50)] == [
        (100, 300, [(100, 200), (250, 300)]),
        (1000, 1100, [(1000, 1100)]),
    ]
    assert len(plan_requests(pieces, max_gap=49)) == 3
    assert len(plan_requests(pieces, max_gap=10_000)) == 1
    records = [Record("u", "f", 100, 100, "zho"), Record("v", "f", 250, 50, "zho")]
    assert remaining_pieces(records, 0) == [(100, 200), (250, 300)]
    assert remaining_pieces(records, 40) == [(140, 200), (250, 300)]
    assert remaining_pieces(records, 100) == [(250, 300)]
    assert remaining_pieces(records, 120) == [(270, 300)]
    assert remaining_pieces(records, 150) == []


def test_piece_sink_keeps_the_pieces_across_blocks() -> None:
    source = bytes(range(256)) * 8
    pieces = [(10, 20), (30, 700), (900, 901)]
    out = io.BytesIO()
    out.name = "memory"  # type: ignore[attr-defined]
    sink = _PieceSink(out, 5, pieces)
    for start in range(5, 1000, 7):  # blocks that cut pieces anywhere
        sink.write(source[start : min(start + 7, 1000)])
    assert out.getvalue() == b"".join(source[a:b] for a, b in pieces)


# ---------------------------------------------------------------- --audit


def test_audit_reports_the_pages_the_index_missed(indexed, tmp_path: Path) -> None:
    state, rows = indexed
    # Relabel one Chinese page as English: the index now misses it, and the audit must say so.
    hidden = next(r for r in rows if r["content_languages"] == "zho" and "-00000-" in r["warc_filename"])
    relabelled = [dict(r, content_languages="eng") if r is hidden else r for r in rows]
    part = f"{INDEX_DIR}/subset=warc/part-00000-test.c000.gz.parquet"
    for name in [n for n in state.files if "/subset=" in n]:
        del state.files[name]
    state.files[INDEX_LISTING] = gzip.compress(f"{part}\n".encode())
    state.files[part] = parquet_bytes(relabelled)
    out = tmp_path / "cc"
    code, output = fetch(state, out, "--languages", "zho", "--audit", "2")
    assert code == 0, output
    report = json.loads((out / "audit" / "report.json").read_text(encoding="utf-8"))
    sources = list(state.sources)[:2]  # the first two files of warc.paths.gz, downloaded whole
    assert [f["source"] for f in report["files"]] == sources
    for source in sources:
        assert (out / "audit" / source.rsplit("/", 1)[1]).read_bytes() == state.files[source]
    excerpt = report["files"][0]
    selected = chinese(relabelled)[sources[0]]
    assert excerpt["index_selected"] == len(selected)
    assert excerpt["index_selected_bytes"] == sum(r["warc_record_length"] for r in selected)
    missed = {page["url"]: page["offset"] for page in excerpt["missed"]}
    assert missed[hidden["url"]] == hidden["warc_record_offset"]
    # Every miss is a page the index did not select; every page both chose is counted once.
    assert not set(missed) & {r["url"] for r in selected}
    assert excerpt["both"] == excerpt["curate_selected"] - len(missed)
    totals = report["totals"]
    whole = sum(len(state.files[s]) for s in sources)
    assert totals["bytes_whole"] == whole
    assert totals["bandwidth_saved"] == pytest.approx(1 - excerpt["index_selected_bytes"] / whole)
    assert totals["recall"] == pytest.approx(excerpt["both"] / excerpt["curate_selected"])
    assert f"audit: missed {hidden['url']}" in output
    assert report["complete_index"] is True and report["failed"] == []


def test_audit_usage_errors(indexed, tmp_path: Path) -> None:
    state, _ = indexed
    code, output = fetch(state, tmp_path / "cc", "--languages", "zho", "--audit", "1", "--domain", "a.cn")
    assert code == 2 and "not with --domain" in output
    code, output = fetch(state, tmp_path / "cc", "--languages", "xyz", "--audit", "1")
    assert code == 2 and "no pre-pass language for xyz" in output
    code, output = fetch(state, tmp_path / "cc", "--segments", "1", "--audit", "1")
    assert code == 2 and "go with --languages" in output


def test_query_index_filters_and_partitions(tmp_path: Path) -> None:
    from curate.cc_index import query_index, read_selection, records_by_file, write_selection

    def row(url: str, languages: str | None, status: int = 200, offset: int = 0) -> dict:
        host = url.split("/")[2]
        return {
            "url_surtkey": url,
            "url": url,
            "url_host_name": host,
            "url_host_registered_domain": ".".join(host.split(".")[-2:]),
            "fetch_status": status,
            "content_languages": languages,
            "warc_filename": "crawl-data/X/segments/1/warc/a.warc.gz",
            "warc_record_offset": offset,
            "warc_record_length": 10,
        }

    root = tmp_path / "cc-index/table/cc-main/warc"
    files = []
    for subset, rows in {
        "warc": [
            row("http://a.163.com/1", "zho", offset=30),
            row("http://b.163.com/2", "eng,zho", offset=10),
            row("http://c.qq.com/3", "zho,eng", offset=20),
            row("http://d.qq.com/4", "eng", offset=40),
            row("http://e.qq.com/5", None, offset=50),
            row("http://f.qq.com/6", "zho", status=304, offset=60),
        ],
        "crawldiagnostics": [row("http://g.qq.com/7", "zho", status=200, offset=70)],
    }.items():
        folder = root / f"crawl={CRAWL}" / f"subset={subset}"
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), folder / "part-0.parquet")
        files.append(str(folder / "part-0.parquet"))

    def urls(**options: object) -> list[str]:
        return query_index(files, base_dir=str(root), **options).column("url").to_pylist()  # type: ignore[arg-type]

    # Sorted by offset; not the 304, the English page, the page without languages nor crawldiagnostics.
    assert urls(languages=["zho"]) == ["http://b.163.com/2", "http://c.qq.com/3", "http://a.163.com/1"]
    assert urls(languages=["zho"], domains=["163.com"]) == ["http://b.163.com/2", "http://a.163.com/1"]
    assert urls(languages=["zho"], url_prefixes=["http://c.", "http://a."]) == [
        "http://c.qq.com/3",
        "http://a.163.com/1",
    ]
    assert urls(languages=["zho"], warc_files=["other.warc.gz"]) == []
    assert urls(languages=["jpn", "eng"]) == ["http://b.163.com/2", "http://c.qq.com/3", "http://d.qq.com/4"]
    # The streamed selection file reads back as the same rows; an empty one too.
    for languages in (["zho"], ["jpn"]):
        path = str(tmp_path / f"selection-{languages[0]}.parquet")
        assert write_selection(files, languages, [], [], str(root), path) == len(urls(languages=languages))
        assert read_selection(path).equals(query_index(files, languages, base_dir=str(root)))
    assert read_selection(str(tmp_path / "selection-zho.parquet"), ["other.warc.gz"]).num_rows == 0
    (records,) = records_by_file(query_index(files, ["zho"], base_dir=str(root))).values()
    assert [(r.offset, r.length, r.languages) for r in records] == [
        (10, 10, "eng,zho"),
        (20, 10, "zho,eng"),
        (30, 10, "zho"),
    ]
