"""Block list importers, the compiled index and its cache, allow lists and per-category actions,
on small generated files (the real UT1 lists: test_blocklist_ut1.py)."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from test_faults_config import minimal_config

from curate.cli import cli
from curate.config_schema import build
from curate.stage import StageStats
from stages.screens import blocklist_index
from stages.screens.blocklist import BlocklistScreen, BlocklistScreenConfig, load_index
from stages.screens.blocklist_index import SourceSpec
from stages.screens.blocklist_sources import read_source


def write_ut1_folder(root: Path) -> Path:
    for category, domains, urls in (
        ("adult", "porn-example.test\nXN--MES728CQ3U4UH.test.\n", "bad-site.test/videos/x\n"),
        ("gambling", "casino-example.test\n", ""),
    ):
        (root / category).mkdir(parents=True)
        (root / category / "domains").write_text(domains)
        if urls:
            (root / category / "urls").write_text(urls)
    return root


def tar_of(folder: Path, path: Path) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.add(file, arcname=str(file.relative_to(folder)))
    return path


def test_ut1_folder_and_tar_give_the_same_entries(tmp_path: Path) -> None:
    folder = write_ut1_folder(tmp_path / "ut1")
    expected = {
        ("domain", "porn-example.test", "adult"),
        ("domain", "澳门赌场.test", "adult"),  # punycode and trailing dot normalised
        ("url", "bad-site.test/videos/x", "adult"),
        ("domain", "casino-example.test", "gambling"),
    }
    assert set(read_source(str(folder), "ut1")) == expected
    assert set(read_source(str(tar_of(folder, tmp_path / "ut1.tar.gz")), "ut1")) == expected


def test_ut1_merged_top_level_files_take_the_source_category(tmp_path: Path) -> None:
    folder = tmp_path / "merged"
    folder.mkdir()
    (folder / "domains").write_text("a.test\n")
    (folder / "urls").write_text("b.test/path/\n")
    archive = tar_of(folder, tmp_path / "merged.tar.gz")
    assert set(read_source(str(archive), "ut1")) == {("domain", "a.test", "ut1"), ("url", "b.test/path", "ut1")}
    assert {c for _, _, c in read_source(str(archive), "ut1", "blacklist")} == {"blacklist"}


@pytest.mark.parametrize(
    "fmt, text, expected",
    [
        (
            "hosts",
            "# comment\n0.0.0.0 ads.test\n127.0.0.1 localhost\n255.255.255.255 broadcasthost\n"
            "ff02::1 ip6-allnodes\nfe80::1%lo0 localhost\n127.0.0.1 a.test b.test # x\n",
            ["ads.test", "a.test", "b.test"],
        ),
        (
            "adblock",
            "[Adblock Plus 2.0]\n! title\n||tracker.test^\n##.banner\n@@||ok.test^\n||x.test/path^\n"
            "||cdn.test^$third-party\n||site.test^$important,document\n",
            ["tracker.test", "site.test"],
        ),
        ("domains", "# list\nExample.TEST.\n\nxn--mes728cq3u4uh.test\n", ["example.test", "澳门赌场.test"]),
    ],
)
def test_plain_formats(tmp_path: Path, fmt: str, text: str, expected: list[str]) -> None:
    path = tmp_path / "ads.txt"
    path.write_text(text)
    assert list(read_source(str(path), fmt)) == [("domain", d, "ads") for d in expected]


def test_curate_format_keeps_its_three_kinds(tmp_path: Path) -> None:
    path = tmp_path / "mine.txt"
    path.write_text("domain: A.test\nurl: /Casino/\ntoken: duchang\n")
    assert list(read_source(str(path), "curate")) == [
        ("domain", "a.test", "mine"),
        ("substring", "/casino/", "mine"),
        ("token", "duchang", "mine"),
    ]


def screen_of(**options) -> BlocklistScreen:
    return BlocklistScreen(build(BlocklistScreenConfig, {"builtin_lists": False, **options}, "screen_blocklist"))


def run(stage: BlocklistScreen, urls: list[str]) -> tuple[list, StageStats]:
    batch = pa.RecordBatch.from_pydict({"url": urls, "text": ["x"] * len(urls)})
    stats = StageStats("screen_blocklist")
    kept = stage.apply(batch, stats)
    return kept.column("url").to_pylist(), stats


def test_domains_url_prefixes_and_per_category_actions(tmp_path: Path) -> None:
    folder = write_ut1_folder(tmp_path / "ut1")
    stage = screen_of(
        sources=[{"path": str(folder), "format": "ut1"}],
        category_actions=[{"category": "adult", "action": "flag"}],
    )
    urls = [
        "http://www.casino-example.test/a",  # gambling: dropped
        "http://cdn.porn-example.test/",  # adult: flagged, kept
        "https://BAD-SITE.test:8080/videos/x/page2?q=1",  # URL prefix at a / boundary
        "https://bad-site.test/videos/xyz",  # not at a boundary: not listed
        "http://www.澳门赌场.test/",
        "http://news.example.test/",
    ]
    kept, stats = run(stage, urls)
    assert kept == urls[1:]
    assert stats.drops == {"screen.blocked_domain": 1}
    assert stats.flags == {"screen.blocked_domain": 2, "screen.blocked_url": 1}
    assert stats.hits == {"gambling": 1, "adult": 3}


def test_source_action_and_allow_list_win(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("0.0.0.0 ads.gov.cn\n0.0.0.0 tracker.test\n")
    domains = tmp_path / "bad.txt"
    domains.write_text("school.edu.cn\nevil.test\n")
    stage = screen_of(
        action="drop",
        sources=[
            {"path": str(hosts), "format": "hosts", "category": "ads", "action": "flag"},
            {"path": str(domains), "format": "domains"},
        ],
        allow=["gov.cn", "EDU.CN."],
    )
    urls = ["http://ads.gov.cn/x", "http://www.school.edu.cn/", "http://tracker.test/", "http://evil.test/"]
    kept, stats = run(stage, urls)
    assert kept == urls[:3]
    assert stats.flags == {"screen.blocked_domain": 1}
    assert stats.drops == {"screen.blocked_domain": 1}
    assert stats.hits == {"ads": 1, "bad": 1}


def test_compiled_once_then_reused_and_recompiled_when_a_source_changes(tmp_path: Path, monkeypatch) -> None:
    source = tmp_path / "bad.txt"
    source.write_text("evil.test\n")
    calls = []
    real = blocklist_index.read_source
    monkeypatch.setattr(blocklist_index, "read_source", lambda *a: calls.append(a) or real(*a))
    specs = [SourceSpec(str(source), "domains")]
    first = blocklist_index.build(specs, str(tmp_path / "cache"))
    assert blocklist_index.build(specs, str(tmp_path / "cache")) == first
    assert len(calls) == 1
    source.write_text("evil.test\nworse.test\n")
    second = blocklist_index.build(specs, str(tmp_path / "cache"))
    assert second != first and len(calls) == 2
    assert blocklist_index.BlocklistIndex(second).domain(["worse.test"]) == ("bad", "worse.test")
    assert sorted(os.listdir(tmp_path / "cache")) == sorted({os.path.basename(first), os.path.basename(second)})


@pytest.mark.parametrize(
    "fmt, content, message",
    [
        ("ut1", b"\x1f\x8b\x08\x00garbage", "ut1.bin"),
        ("ut1", b"not an archive", "ut1.bin"),
        ("domains", b"\x89PNG\r\n\x1a\n\0\0", "binary data"),
        ("hosts", b"example.test\n", "expected '0.0.0.0 host'"),
        ("domains", b"http://a.test/x\n", "expected a domain"),
    ],
)
def test_a_bad_source_is_a_config_error_naming_its_key(tmp_path: Path, fmt: str, content: bytes, message: str) -> None:
    (tmp_path / "ut1.bin").write_bytes(content)
    stages = f"[extract, {{screen_blocklist: {{sources: [{{path: ut1.bin, format: {fmt}}}]}}}}]"
    config = tmp_path / "c.yaml"
    config.write_text(minimal_config(tmp_path, stages=stages))
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 2, result.output
    assert "stages[1].screen_blocklist.sources[0].path:" in result.output
    assert message in result.output


def test_an_unknown_format_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("a.test\n")
    config = tmp_path / "c.yaml"
    config.write_text(
        minimal_config(tmp_path, stages="[{screen_blocklist: {sources: [{path: x.txt, format: pihole}]}}]")
    )
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 2
    assert "stages[0].screen_blocklist.sources[0].format: expected one of" in result.output


def test_the_index_is_loaded_once_per_process(tmp_path: Path) -> None:
    source = tmp_path / "bad.txt"
    source.write_text("evil.test\n")
    options = {"sources": [{"path": str(source), "format": "domains"}], "cache_dir": str(tmp_path / "c")}
    assert screen_of(**options).index is screen_of(**options).index
    assert load_index.cache_info().hits >= 1
