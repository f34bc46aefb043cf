"""line_dedup end to end, in process: a crawl of real news paragraphs on three sites, each page
with its site's template lines, one line every site carries, quoted paragraphs and copies of one
page; what is cut, what stays, what is dropped, what the manifest says, and resuming."""

from __future__ import annotations

import collections
import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import peoples_daily_documents, require_shared, thucnews_titles
from test_ray_cluster import two_node_cluster  # noqa: F401 - the fixture

from curate.cli import cli
from stages.code_lines import code_line_numbers
from stages.line_dedup.stage import LineDedup, LineDedupConfig

SITES = ("news.example.cn", "bbs.example.cn", "blog.example.cn")
FOOTER = {
    site: [f"{site} 版权所有 未经授权禁止转载或镜像", f"欢迎访问{site}，更多精彩内容请关注我们的官方账号"]
    for site in SITES
}
EVERYWHERE = "本站部分内容来源于网络，如有侵权请联系删除"
PAGES_PER_SITE = 8


def crawl(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The crawl as JSON lines, and the text each page should keep, by URL."""
    articles = iter(peoples_daily_documents(40, paragraphs=4))
    rows, expected = [], {}
    for site in SITES:
        for page in range(PAGES_PER_SITE):
            article = next(articles)
            url = f"http://{site}/{page}.html"
            rows.append({"url": url, "text": "\n".join([article, *FOOTER[site], EVERYWHERE])})
            expected[url] = article
    # A paragraph quoted by pages of the two other sites: on three domains, below min_domains.
    quoted = rows[0]["text"].split("\n")[1]
    for row in (rows[PAGES_PER_SITE + 1], rows[2 * PAGES_PER_SITE + 1]):
        row["text"] = row["text"].replace(EVERYWHERE, f"{quoted}\n{EVERYWHERE}")
        expected[row["url"]] = expected[row["url"]] + "\n" + quoted
    # One page copied onto five more URLs of its site: copies count as one page.
    copied = next(articles)
    for copy in range(6):
        url = f"http://news.example.cn/copy-{copy}.html"
        rows.append({"url": url, "text": copied})
        expected[url] = copied
    # A page that is nothing but its site's template.
    rows.append(
        {"url": "http://bbs.example.cn/empty.html", "text": "\n".join([*FOOTER["bbs.example.cn"], EVERYWHERE])}
    )
    path = tmp_path / "crawl.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path, expected


def config(tmp_path: Path, crawl_path: Path) -> Path:
    path = tmp_path / "line_dedup.yaml"
    path.write_text(
        "name: line_dedup_test\n"
        f"input: {{format: jsonl, paths: ['{crawl_path}']}}\n"
        f"output: {{path: '{tmp_path / 'out'}'}}\n"
        "stages:\n"
        "  - line_dedup: {min_domains: 4, min_pages_per_domain: 5, partitions: 4}\n",
        encoding="utf-8",
    )
    return path


def run(config_path: Path) -> dict:
    result = CliRunner().invoke(cli, ["run", str(config_path), "--executor", "local"])
    assert result.exit_code == 0, result.output
    return json.loads((config_path.parent / "out" / "manifest.json").read_text())


def output_texts(out: Path) -> dict[str, str]:
    rows = pq.read_table(next((out / "data").glob("*.parquet")), columns=["url", "text"]).to_pylist()
    return {row["url"]: row["text"] for row in rows}


@pytest.fixture()
def finished(tmp_path: Path) -> tuple[Path, dict[str, str], dict]:
    crawl_path, expected = crawl(tmp_path)
    path = config(tmp_path, crawl_path)
    return path, expected, run(path)


def test_template_lines_go_article_text_stays(finished) -> None:
    path, expected, manifest = finished
    texts = output_texts(path.parent / "out")
    assert texts == expected  # every template line cut, every article and quoted paragraph kept
    stage = next(s for s in manifest["stages"] if s["name"] == "line_dedup")
    assert stage["drops"] == {"dedup.boilerplate_empty": 1}
    summary = manifest["global_stages"]["line_dedup"]
    pages = len(SITES) * PAGES_PER_SITE
    assert summary["documents_emptied"] == 1
    assert summary["documents_changed"] == pages
    assert summary["units_removed"] == 3 * pages + 3
    assert summary["boilerplate_units"] == 2 * len(SITES) + 1
    top = {entry["domain"]: entry["lines"] for entry in summary["top_removed"]}
    assert {line["text"]: line["pages"] for line in top["bbs.example.cn"]} == {
        **{line: PAGES_PER_SITE + 1 for line in FOOTER["bbs.example.cn"]},
        EVERYWHERE: PAGES_PER_SITE + 1,
    }


def test_a_partition_deleted_is_redone_to_the_same_output(finished) -> None:
    path, _, manifest = finished
    out = path.parent / "out"
    before = output_texts(out)
    (stage_dir,) = (out / "_work" / "runs").glob("*/pass-0/line_dedup")
    for done in stage_dir.glob("counted/part-00002*"):
        done.unlink()
    for part in [*stage_dir.glob("removals/*/part-00002*"), *stage_dir.glob("spread/part-00002*")]:
        part.unlink()
    shutil.rmtree(stage_dir / "decided")
    shutil.rmtree(stage_dir / "decisions")
    again = run(path)
    assert output_texts(out) == before
    assert (
        again["global_stages"]["line_dedup"]["units_removed"]
        == manifest["global_stages"]["line_dedup"]["units_removed"]
    )


def test_the_manifest_validates_and_the_report_shows_the_removed_lines(finished) -> None:
    path, _, _ = finished
    out = path.parent / "out"
    result = CliRunner().invoke(cli, ["report", str(out)])
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<h2>Boilerplate lines</h2>" in page
    assert f"<td>{EVERYWHERE}</td>" in page and "bbs.example.cn" in page


def test_line_dedup_on_a_two_node_cluster(two_node_cluster, finished, tmp_path: Path) -> None:  # noqa: F811
    """The counting partitions run as Ray tasks on both nodes, and the output is the in-process one."""
    address, env = two_node_cluster
    path, _, _ = finished
    rows = (tmp_path / "crawl.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    parts = tmp_path / "parts"
    parts.mkdir()
    for part in range(4):
        (parts / f"crawl-{part}.jsonl").write_text("".join(rows[part::4]), encoding="utf-8")
    config = tmp_path / "cluster.yaml"
    config.write_text(
        path.read_text(encoding="utf-8")
        .replace(str(tmp_path / "crawl.jsonl"), str(parts / "crawl-*.jsonl"))
        .replace(str(tmp_path / "out"), str(tmp_path / "cluster-out"))
        .replace("partitions: 4}", "partitions: 8}\nrun: {local_phases_max_documents: 0}"),
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "curate.cli", "run", str(config), "--address", address]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    manifest = json.loads((tmp_path / "cluster-out" / "manifest.json").read_text())
    summary = manifest["global_stages"]["line_dedup"]
    assert summary["phases_in"] == "ray tasks"
    assert len(summary["count_nodes"]) == 2, summary["count_nodes"]
    clustered = {}
    for shard in (tmp_path / "cluster-out" / "data").glob("*.parquet"):
        clustered.update((r["url"], r["text"]) for r in pq.read_table(shard, columns=["url", "text"]).to_pylist())
    assert clustered == output_texts(path.parent / "out")


def react_docs_batch() -> pa.RecordBatch:
    """The React documentation pages (real MDX with code examples), all on one site."""
    path = require_shared("zh_text", "genres", "technical_docs_react_zh_hans.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle]
    return pa.RecordBatch.from_pydict(
        {
            "url": [f"http://zh-hans.react.dev/{i}" for i in range(len(texts))],
            "domain": ["zh-hans.react.dev"] * len(texts),
            "text": texts,
        }
    )


def code_lines_of(text: str) -> collections.Counter:
    lines = text.split("\n")
    return collections.Counter(lines[n] for n in code_line_numbers(text)[1])


@pytest.mark.parametrize("keep_code_lines", [True, False])
def test_code_examples_repeated_across_a_sites_pages_are_not_boilerplate(keep_code_lines: bool) -> None:
    """Idioms such as ``export default function App() {`` recur on many pages of a documentation
    site; they are its content. Its non-code template lines still go."""
    batch = react_docs_batch()
    before = batch.column("text").to_pylist()
    stage = LineDedup(LineDedupConfig(keep_code_lines=keep_code_lines))
    after, _ = stage.evaluate(batch)
    after_texts = after.column("text").to_pylist()
    code_cut = sum(code_lines_of(b) != code_lines_of(a) for b, a in zip(before, after_texts))
    other_cut = sum(
        (collections.Counter(b.split("\n")) - collections.Counter(a.split("\n"))) - code_lines_of(b) != {}
        for b, a in zip(before, after_texts)
    )
    if keep_code_lines:
        assert code_cut == 0
    else:
        assert code_cut >= 10  # the failure the exemption exists for
    assert other_cut >= 10  # the front matter's template lines, on most pages


def test_headlines_on_a_few_pages_go_sentences_need_more_pages() -> None:
    """A "related news" headline (no sentence end) on 3 pages of a site is boilerplate; the same
    spread for a sentence is not (a paragraph a site repeats is for document dedup to judge),
    nor for a headline that ends a sentence somewhere."""
    articles = peoples_daily_documents(6, paragraphs=3)
    headline, punctuated, other = thucnews_titles(3)
    sentence = next(line for line in articles[5].split("\n") if line.endswith("。") and len(line) < 200)
    texts = ["\n".join([articles[i], headline, sentence, other + ("。" if i == 0 else "")]) for i in range(3)]
    batch = pa.RecordBatch.from_pydict(
        {"url": [f"http://news.example.cn/{i}" for i in range(3)], "domain": ["news.example.cn"] * 3, "text": texts}
    )
    after, failed = LineDedup(LineDedupConfig()).evaluate(batch)
    assert after.column("text").to_pylist() == [
        "\n".join([articles[i], sentence, other + ("。" if i == 0 else "")]) for i in range(3)
    ]
    assert failed == [[], [], []]
    same, _ = LineDedup(LineDedupConfig(min_pages_unpunctuated=15)).evaluate(batch)
    assert same.column("text").to_pylist() == texts
