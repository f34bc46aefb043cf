"""Units smaller than a file (``run.unit_max_bytes``): a large input is cut at record starts
into ranges that map in parallel, and the output is the same bytes however it was cut.

The sample inputs the repository ships are small (0.6 MB of WARC, 130 KB of WuDao), so 8 MiB
(the issue's figure) leaves them whole; the runs below also cut them into 4-8 ranges, which is
what the identity has to survive.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastwarc.warc import ArchiveIterator

from curate.config import load_config
from curate.runner import run_pipeline
from curate.storage import Span
from stages.readers import InputConfig, ReadResult, reader_for
from stages.readers.splits import cut_points, cut_targets

REPO = Path(__file__).resolve().parents[1]
SAMPLE_WARC = REPO / "samples" / "zh_web_sample.warc.gz"
SAMPLE_WUDAO = REPO / "samples" / "wudao_sample.json"
MiB = 1 << 20


def run_with(config_path: Path, out: Path, unit_max_bytes: int | None, **overrides) -> dict:
    config = load_config(str(config_path), output_override=str(out), **overrides)
    config.run.unit_max_bytes = unit_max_bytes
    return run_pipeline(config, executor="local", fresh=True).manifest


def shard_digests(manifest: dict) -> dict[str, str]:
    return {shard["path"]: shard["sha256"] for shard in manifest["outputs"]["shards"]}


def stage_counts(manifest: dict) -> list[tuple]:
    return [(s["name"], s["docs_in"], s["docs_out"], sorted(s["drops"].items())) for s in manifest["stages"]]


def assert_same_output(manifests: dict[int | None, dict], small: int) -> None:
    whole = manifests[None]
    assert len(whole["inputs"]) == 1 and "range" not in whole["inputs"][0]
    ranges = [entry["range"] for entry in manifests[small]["inputs"]]
    assert len(ranges) >= 4, "the small unit size must really cut the input"
    assert ranges[0]["start"] == 0 and ranges[-1]["end"] is None
    assert all(a["end"] == b["start"] for a, b in zip(ranges, ranges[1:]))
    assert sum(entry["records"] for entry in manifests[small]["inputs"]) == whole["inputs"][0]["records"]
    assert whole["outputs"]["rows"] > 0
    for manifest in manifests.values():
        assert shard_digests(manifest) == shard_digests(whole)
        assert stage_counts(manifest) == stage_counts(whole)
        assert manifest["outputs"]["rows"] == whole["outputs"]["rows"]


def test_sample_crawl_writes_the_same_shards_whatever_the_unit_size(tmp_path: Path) -> None:
    sizes = (None, 8 * MiB, 128 * 1024)
    manifests = {size: run_with(REPO / "configs" / "zh_web.yaml", tmp_path / f"out-{size}", size) for size in sizes}
    assert_same_output(manifests, 128 * 1024)
    assert len(manifests[8 * MiB]["inputs"]) == 1  # 0.6 MB: not cut
    # The report and `curate inspect` count files, and the units they were cut into.
    from curate.inspect_manifest import render
    from curate.report import build_report

    units = len(manifests[128 * 1024]["inputs"])
    assert f"1 files in {units} units" in build_report(str(tmp_path / "out-131072"), manifests[128 * 1024])
    assert f"Inputs: 1 files in {units} units" in render(manifests[128 * 1024])


def test_wudao_input_writes_the_same_shards_whatever_the_unit_size(tmp_path: Path) -> None:
    sizes = (None, 8 * MiB, 16 * 1024)
    manifests = {size: run_with(REPO / "configs" / "wudao.yaml", tmp_path / f"out-{size}", size) for size in sizes}
    assert_same_output(manifests, 16 * 1024)


def wudao_as_jsonl(target: Path) -> list[dict]:
    """The WuDao sample's elements as JSON Lines (``text`` and ``id``), with a bad line among them."""
    elements = json.loads(SAMPLE_WUDAO.read_text(encoding="utf-8"))
    lines = [json.dumps({"id": e["id"], "text": e["content"]}, ensure_ascii=False) for e in elements]
    lines.insert(10, '{"id": "broken", "text": "未闭合')
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return elements


def test_jsonl_input_writes_the_same_shards_whatever_the_unit_size(tmp_path: Path) -> None:
    wudao_as_jsonl(tmp_path / "corpus.jsonl")
    config = tmp_path / "jsonl.yaml"
    text = (REPO / "configs" / "wudao.yaml").read_text(encoding="utf-8")
    config.write_text(
        text.replace("format: wudao", "format: jsonl").replace("../samples/wudao_sample.json", "corpus.jsonl"),
        encoding="utf-8",
    )
    sizes = (None, 8 * MiB, 16 * 1024)
    manifests = {size: run_with(config, tmp_path / f"out-{size}", size) for size in sizes}
    assert_same_output(manifests, 16 * 1024)
    # Each bad line (ours, and the sample's element whose content is a number) is counted once,
    # by the range it is in, at its byte offset; a range from further on cannot know line numbers.
    errors = [(e, entry["range"]) for entry in manifests[16 * 1024]["inputs"] for e in entry["errors"]]
    whole_errors = manifests[None]["inputs"][0]["errors"]
    assert [e["offset"] for e, _ in errors] == [e["offset"] for e in whole_errors] and len(errors) == 2
    assert all("line" in e for e in whole_errors)
    assert all(("line" in e) == (where["start"] == 0) for e, where in errors)


def read_ranges(config: InputConfig, path: Path, cuts: list[int], column: str) -> list[tuple[list, ReadResult]]:
    """Per range of ``path`` cut at ``cuts``: the values of ``column`` its reader gives, and its result."""
    reader, found = reader_for(config), []
    for start, end in zip(cuts, [*cuts[1:], None]):
        result = ReadResult()
        values = [v for batch in reader.read(str(path), result, Span(start, end)) for v in batch[column].to_pylist()]
        found.append((values, result))
    return found


def record_starts(path: Path) -> list[int]:
    with open(path, "rb") as stream:
        return [record.stream_pos for record in ArchiveIterator(stream, parse_http=False)]


def test_warc_cuts_are_verified_record_starts() -> None:
    config = InputConfig(paths=[str(SAMPLE_WARC)])
    size = SAMPLE_WARC.stat().st_size
    cuts = cut_points(config, str(SAMPLE_WARC), size, 64 * 1024)
    starts = record_starts(SAMPLE_WARC)
    assert len(cuts) >= 8 and set(cuts) <= set(starts)
    # Each range reads exactly the records that start in it, with the file's offsets.
    ranges = read_ranges(config, SAMPLE_WARC, cuts, "source_offset")
    for (_, result), start, end in zip(ranges, cuts, [*cuts[1:], None]):
        assert result.records == len([s for s in starts if s >= start and (end is None or s < end)])
    ((whole, _),) = read_ranges(config, SAMPLE_WARC, [0], "source_offset")
    assert [offset for values, _ in ranges for offset in values] == whole


def test_inputs_that_cannot_be_cut_stay_whole(tmp_path: Path) -> None:
    # A WARC file of one gzip member: no record start to cut at.
    single = tmp_path / "one-member.warc.gz"
    single.write_bytes(gzip.compress(gzip.decompress(SAMPLE_WARC.read_bytes())))
    assert cut_points(InputConfig(paths=[str(single)]), str(single), single.stat().st_size, 64 * 1024) == [0]
    # Compressed JSON: offsets are places in the decompressed text, which a later member cannot know.
    wudao_as_jsonl(tmp_path / "corpus.jsonl")
    packed = tmp_path / "corpus.jsonl.gz"
    packed.write_bytes(gzip.compress((tmp_path / "corpus.jsonl").read_bytes()))
    jsonl = InputConfig(paths=[str(packed)], format="jsonl")
    assert cut_points(jsonl, str(packed), packed.stat().st_size, 1024) == [0]
    plain = tmp_path / "corpus.jsonl"
    cuts = cut_points(jsonl, str(plain), plain.stat().st_size, 8 * 1024)
    data = plain.read_bytes()
    assert len(cuts) > 8 and all(data[cut - 1 : cut] == b"\n" for cut in cuts[1:])


def test_wudao_cuts_skip_objects_nested_in_an_element(tmp_path: Path) -> None:
    """``,{"`` also opens an object inside an element's list; only an element with the text field is a cut."""
    elements = [
        {"id": i, "title": f"标题{i}", "content": "正文" * 400, "tags": [{"k": "a"}, {"k": "b"}] * 50}
        for i in range(40)
    ]
    path = tmp_path / "nested.json"
    path.write_text("[" + ",".join(json.dumps(e, ensure_ascii=False) for e in elements) + "]", encoding="utf-8")
    config = InputConfig(paths=[str(path)], format="wudao")
    cuts = cut_points(config, str(path), path.stat().st_size, 3000)
    data = path.read_bytes()
    assert len(cuts) > 5
    assert all(data[cut:].startswith(b'{"id": ') for cut in cuts[1:])
    ranges = read_ranges(config, path, cuts, "source_id")
    assert not any(result.errors for _, result in ranges)
    assert [i for values, _ in ranges for i in values] == [str(i) for i in range(40)]


def test_parquet_is_cut_at_row_groups_and_rows_keep_their_numbers(tmp_path: Path) -> None:
    elements = json.loads(SAMPLE_WUDAO.read_text(encoding="utf-8"))
    texts = [e["content"] for e in elements if isinstance(e.get("content"), str) and e["content"].strip()]
    path = tmp_path / "corpus.parquet"
    pq.write_table(pa.table({"text": texts, "id": [str(i) for i in range(len(texts))]}), path, row_group_size=5)
    config = InputConfig(paths=[str(path)], format="parquet")
    cuts = cut_points(config, str(path), path.stat().st_size, 10 * 1024)
    assert len(cuts) > 3
    offsets = [o for values, _ in read_ranges(config, path, cuts, "source_offset") for o in values]
    ids = [i for values, _ in read_ranges(config, path, cuts, "source_id") for i in values]
    assert list(zip(offsets, ids)) == [(i + 1, str(i)) for i in range(len(texts))]


def test_a_range_resumes_on_its_own(tmp_path: Path) -> None:
    """A re-run after a crash redoes only the ranges whose folder is missing."""
    out = tmp_path / "out"
    first = run_with(REPO / "configs" / "wudao.yaml", out, 16 * 1024)
    units = sorted((out / "_work" / "units").iterdir())
    assert len(units) == len(first["inputs"]) >= 4
    shutil.rmtree(units[1])
    config = load_config(str(REPO / "configs" / "wudao.yaml"), output_override=str(out))
    config.run.unit_max_bytes = 16 * 1024
    again = run_pipeline(config, executor="local").manifest
    assert again["resumed_units"] == len(units) - 1
    assert shard_digests(again) == shard_digests(first)


@pytest.mark.parametrize("damaged_range", [1, 3])
def test_damage_inside_a_range_costs_what_it_costs_read_whole(tmp_path: Path, damaged_range: int) -> None:
    """A corrupt record in one range is skipped and counted there; the output matches reading the
    damaged file whole."""
    data = bytearray(SAMPLE_WARC.read_bytes())
    cuts = cut_points(InputConfig(paths=[str(SAMPLE_WARC)]), str(SAMPLE_WARC), len(data), 128 * 1024)
    starts = record_starts(SAMPLE_WARC)
    inside = [s for s in starts if cuts[damaged_range] < s < cuts[damaged_range + 1]]
    at = inside[len(inside) // 2] + 40  # into the deflate data of a record mid-range
    data[at : at + 16] = os.urandom(16)
    damaged_file = tmp_path / "damaged.warc.gz"
    damaged_file.write_bytes(bytes(data))
    config, inputs = REPO / "configs" / "zh_web.yaml", [str(damaged_file)]
    whole = run_with(config, tmp_path / "whole", None, input_override=inputs)
    cut = run_with(config, tmp_path / "cut", 128 * 1024, input_override=inputs)
    read_whole = whole["stages"][0]["drops"]
    assert read_whole.get("read.corrupt_record", 0) >= 1
    assert shard_digests(cut) == shard_digests(whole)
    assert stage_counts(cut) == stage_counts(whole)
    damaged = [entry for entry in cut["inputs"] if entry["error_count"]]
    assert len(damaged) == 1 and damaged[0]["range"]["start"] == cuts[damaged_range]


def test_a_small_run_is_cut_finer_but_never_below_the_floor() -> None:
    from curate.units import UNIT_MIN_BYTES, unit_bytes

    config = load_config(str(REPO / "configs" / "zh_web.yaml"))
    assert (config.run.unit_max_bytes, config.run.min_units) == (256 * MiB, 16)
    # One 1.1 GB WARC file: 16 units of ~70 MB rather than 4 of 256 MB and a remainder.
    assert unit_bytes(config, 1_114_209_102) == -(-1_114_209_102 // 16)
    # A dump of many files: the configured size.
    assert unit_bytes(config, 90 * 1024 * MiB) == 256 * MiB
    # A small run is not cut into slivers: their fixed costs would outweigh their work.
    assert unit_bytes(config, 600_000) == UNIT_MIN_BYTES
    config.run.unit_max_bytes = None
    assert unit_bytes(config, 1_114_209_102) is None


def test_cuts_make_parts_of_about_equal_size() -> None:
    config = InputConfig(paths=[str(SAMPLE_WARC)])
    size = SAMPLE_WARC.stat().st_size
    cuts = cut_points(config, str(SAMPLE_WARC), size, size // 7 + 1)
    lengths = [b - a for a, b in zip(cuts, [*cuts[1:], size])]
    longest_record = max(b - a for a, b in zip(record_starts(SAMPLE_WARC), record_starts(SAMPLE_WARC)[1:]))
    assert len(cuts) == 7 and max(lengths) - min(lengths) <= 2 * longest_record


def test_a_record_longer_than_several_parts_makes_no_empty_unit(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    lines = [json.dumps({"text": "短文本"}, ensure_ascii=False)] * 3
    lines.insert(1, json.dumps({"text": "长" * 60_000}, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = InputConfig(paths=[str(path)], format="jsonl")
    cuts = cut_points(config, str(path), path.stat().st_size, 16 * 1024)
    assert cuts == sorted(set(cuts)) and len(cuts) == 2  # the long line's end is the only cut
    ranges = read_ranges(config, path, cuts, "text")
    assert all(values for values, _ in ranges)
    assert [len(t) for values, _ in ranges for t in values] == [3, 60_000, 3, 3]


def test_cut_targets_make_equal_parts_and_a_finer_tail() -> None:
    assert cut_targets(1000, 250) == [250, 500, 750]
    assert cut_targets(1000, 300) == [250, 500, 750]  # 4 equal parts, not 3 of 300 and a remainder
    # Before byte 600, parts of at most 300; a cut at 600 itself; after it, parts of at most 100.
    assert cut_targets(1000, 300, 600, 100) == [300, 600, 700, 800, 900]
    assert cut_targets(1000, 300, 0, 250) == [250, 500, 750]  # the whole file in the tail
    assert cut_targets(200, 300, 0, 50) == [50, 100, 150]  # smaller than a unit, but in the tail
    assert cut_targets(200, 300) == []


def test_the_runs_tail_is_cut_finer_and_writes_the_same_shards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guided scheduling: the last TAIL_UNITS units' worth of bytes are cut TAIL_DIVISOR times
    finer, so workers finish together. The floor is lowered so the 0.6 MB sample has a tail."""
    import curate.units as units

    monkeypatch.setattr(units, "UNIT_MIN_BYTES", 8 * 1024)
    config = load_config(str(REPO / "configs" / "zh_web.yaml"))
    config.run.unit_max_bytes = 64 * 1024
    size = SAMPLE_WARC.stat().st_size
    every = units.unit_bytes(config, size)
    assert every is not None and every >= 4 * units.UNIT_MIN_BYTES
    planned = units.plan_units(config)
    lengths = [(u.end or size) - u.start for u in planned]
    tail_from = size - units.TAIL_UNITS * every
    head = [n for u, n in zip(planned, lengths) if u.start < tail_from]
    tail = [n for u, n in zip(planned, lengths) if u.start >= tail_from]
    assert len(tail) >= units.TAIL_UNITS * units.TAIL_DIVISOR - 2
    assert sum(tail) / len(tail) < sum(head) / len(head) / 2
    assert [u.start for u in planned] == sorted({u.start for u in planned})
    whole = run_with(REPO / "configs" / "zh_web.yaml", tmp_path / "whole", None)
    cut = run_with(REPO / "configs" / "zh_web.yaml", tmp_path / "cut", 64 * 1024)
    assert [entry["range"]["start"] for entry in cut["inputs"]] == [u.start for u in planned]
    assert shard_digests(cut) == shard_digests(whole)
    assert stage_counts(cut) == stage_counts(whole)
