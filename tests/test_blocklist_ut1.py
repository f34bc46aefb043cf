"""The real UT1 lists (4.56 M domains, 19.6 k URL prefixes; ../shared/data/blocklists/ut1, CC BY-SA
4.0, read from there, never copied): listed sites are blocked with their category and action, the
real Chinese pages of ../shared/data are not, and a run's manifest records the list and its hits.
UT1 is compiled once per session (~9 s) into the session's block list cache."""

from __future__ import annotations

import csv
import tarfile
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import require_shared

from curate.config import load_config
from curate.config_schema import build
from curate.inspect_manifest import render
from curate.manifest import manifest_problems
from curate.runner import run_pipeline
from curate.stage import StageStats
from curate.warc_writer import write_response
from stages.screens.blocklist import BlocklistScreen, BlocklistScreenConfig

UT1 = ("blocklists", "ut1", "url_filterblacklistsv0_3_0.tar.gz")


@pytest.fixture(scope="session")
def ut1_archive() -> Path:
    return require_shared(*UT1)


@pytest.fixture(scope="session")
def ut1_stage(ut1_archive: Path) -> BlocklistScreen:
    """As the flagship would run it: the built-in lists and UT1, dropping."""
    options = {"action": "drop", "sources": [{"path": str(ut1_archive), "format": "ut1"}]}
    return BlocklistScreen(build(BlocklistScreenConfig, options, "screen_blocklist"))


def ut1_sample(archive: Path, member: str, every: int) -> list[str]:
    """Every ``every``-th line of one of the archive's files, read here rather than hard-coded."""
    with tarfile.open(archive) as tar:
        handle = tar.extractfile(member)
        assert handle is not None
        return [line.decode().strip() for n, line in enumerate(handle) if n % every == 0]


def real_chinese_urls() -> list[str]:
    """The 78 real Chinese pages of html/zh_sites with reference text: their URL when recorded,
    else one on their site (the host is what the lists match)."""
    folder = require_shared("html", "zh_sites")
    with open(folder / "MANIFEST.tsv", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle, delimiter="\t") if row["gold"]]
    return [row["url"] or f"http://{row['site']}/{Path(row['path']).name.split('.')[0]}.html" for row in rows]


def apply(stage: BlocklistScreen, urls: list[str]) -> tuple[pa.RecordBatch, StageStats]:
    stats = StageStats("screen_blocklist")
    batch = pa.RecordBatch.from_pydict({"url": urls, "html": ["x"] * len(urls)})
    return stage.apply(batch, stats), stats


def test_listed_domains_and_url_prefixes_are_dropped_with_their_category(ut1_stage, ut1_archive) -> None:
    domains = ut1_sample(ut1_archive, "domains", 400_000)
    prefixes = ut1_sample(ut1_archive, "urls", 4_000)
    urls = [f"http://{d}/" for d in domains] + [f"https://www.{domains[1]}/any/page"]
    urls += [f"http://{p}" for p in prefixes] + [f"http://{p}/more?x=1" for p in prefixes]
    found = [ut1_stage.match(url) for url in urls]
    for url, findings in zip(urls, found):
        rules = {rule for rule, _ in findings}
        assert rules & {"screen.blocked_domain", "screen.blocked_url"}, url
        listed = [evidence for rule, evidence in findings if rule != "screen.blocked_token"]
        assert all(evidence.split(":")[0] == "ut1" for evidence in listed), url
        assert all(ut1_stage.action_of(rule, evidence) == "drop" for rule, evidence in findings)
    kept, stats = apply(ut1_stage, urls)
    assert kept.num_rows == 0
    assert stats.hits["ut1"] == len(urls)


def test_no_real_chinese_page_is_blocked(ut1_stage) -> None:
    urls = real_chinese_urls()
    assert len(urls) == 78
    kept, stats = apply(ut1_stage, urls)
    assert kept.num_rows == 78, {u: ut1_stage.match(u) for u in urls if ut1_stage.match(u)}
    assert not stats.hits and not stats.flags


def test_a_run_records_the_list_and_its_hits(ut1_archive: Path, tmp_path: Path) -> None:
    pages = sorted((require_shared("html", "zh_gb2312") / "original").glob("*.html"))[:6]
    listed = ut1_sample(ut1_archive, "domains", 1_000_000)[:2]
    with open(tmp_path / "in.warc.gz", "wb") as out:
        for i, page in enumerate(pages):
            host = listed[i] if i < len(listed) else "gb.test"
            write_response(out, f"http://{host}/{page.stem}", page.read_bytes(), "text/html")
    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: b\ninput: {{paths: [{tmp_path / 'in.warc.gz'}]}}\noutput: {{path: {tmp_path / 'out'}}}\n"
        f"stages:\n  - screen_blocklist: {{sources: [{{path: {ut1_archive}, format: ut1}}]}}\n  - extract: {{}}\n"
    )
    manifest = run_pipeline(load_config(str(config)), executor="local").manifest
    assert manifest_problems(manifest) == []
    stage = next(s for s in manifest["stages"] if s["name"] == "screen_blocklist")
    assert stage["drops"] == {"screen.blocked_domain": 2} and stage["hits"] == {"ut1": 2}
    ut1 = next(r for r in manifest["blocklists"] if r["format"] == "ut1")
    assert ut1["name"] == UT1[-1] and ut1["entries"] == 4_578_527 and len(ut1["sha256"]) == 64
    assert {r["format"] for r in manifest["blocklists"]} == {"ut1", "curate"}
    shown = render(manifest)
    assert "Block lists" in shown and UT1[-1] in shown and "4578527" in shown.replace(",", "")
