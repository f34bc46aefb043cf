"""The labelled Chinese development data in ../shared/data, as pages the pipeline can read.

Every item is one web page (original bytes where the data set has them; plain
text wrapped as a page otherwise: title as ``<title>`` and ``<h1>``, each line
as a ``<p>``), with a label:

- ``good``: human-written text that belongs in a pretraining corpus, by genre
  (``zh_text/genres``, the article/forum/Q&A pages of ``html/zh_sites``, the
  69 ``html/zh_gb2312`` pages, the Chinese readability test pages);
- ``spam``: gambling operator pages and betting-platform texts (``spam/zh``),
  and the gambling and porn pages of the Common Crawl excerpt;
- ``portal``: real non-article pages of ``html/zh_sites`` (news lists,
  product pages, search results, home and error pages) and the Common Crawl
  excerpt's catalogue and listing pages: not prose, yet no attack either, so
  a screen that fires on them is wrong.

Each good item has a ``group``, the genre the false-positive budget is counted
in (the genres issue 13 names), and a ``genre`` (its data set). Used by
``quality_eval.py``, ``calibrate_quality.py``, ``train_spam_model.py`` and the
tests; nothing here is copied into the repository.
"""

from __future__ import annotations

import csv
import gzip
import html as html_lib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))

GOOD, SPAM, PORTAL = "good", "spam", "portal"

# Genre file -> (budget group, site the text was published on, one site per document?)
GENRE_FILES = {
    "encyclopedia_wikipedia": ("encyclopedic", "zh.wikipedia.org", False),
    "encyclopedia_wikipedia_zh_tw": ("traditional", "zh.wikipedia.org", False),
    "essay_luxun": ("literature", "www.luxun.example.cn", False),
    "fiction_luxun": ("literature", "www.luxun.example.cn", False),
    "modern_poetry": ("literature", "poetry.example.cn", True),
    "finance_news_163": ("news", "money.163.com", False),
    "forum_tianya": ("forum_qa", "bbs.tianya.cn", False),
    "qa_zhihu_answers": ("forum_qa", "www.zhihu.com", False),
    "qa_dureader_answers": ("forum_qa", "zhidao.baidu.com", False),
    "medical_qa": ("forum_qa", "med.example.cn", False),
    "government_reports": ("government", "www.gov.cn", False),
    "legal_lawrefbook": ("legal", "law.example.cn", False),
    "technical_docs_react_zh_hans": ("technical", "zh-hans.react.dev", False),
    "technical_docs_react_zh_hant": ("traditional", "zh-hant.react.dev", False),
    "subtitles": ("subtitles", "subtitles.example.cn", True),
    "web_documents_dureader": ("web_uncurated", None, True),
}
# Known-good documents that are not what their label says, with the evidence: left out of the
# false-positive budget (reported on their own), never of the data. Found while reading the
# documents the repetition rules dropped; checked by sampling 100-character windows of the first
# half and finding them again later in the text.
ERRATA = {
    "government_reports-0031": "the source file holds the report twice (25 of 27 windows of its first half recur)",
    "government_reports-0047": (
        "the source file holds most of the report twice (38 of 63 windows of its first half recur)"
    ),
}
# zh_sites page types that hold human-written main text.
ARTICLE_TYPES = {"article", "forum", "qa"}

# The Common Crawl excerpt's Chinese pages, labelled by reading them (dev labels, not a list any
# stage uses): gambling/lottery SEO, porn, and ordinary catalogue/listing pages.
CC_EXCERPT_LABELS = {
    "003338.cn": (SPAM, "gambling"),
    "psb556.com": (SPAM, "gambling"),
    "041696.com": (SPAM, "gambling"),
    "044545.com": (SPAM, "gambling"),
    "0755krk.com": (SPAM, "gambling"),
    "077678u.info": (SPAM, "gambling"),
    "0513mt.com": (SPAM, "porn"),
    "05925.net": (SPAM, "porn"),
    "096355.com": (SPAM, "porn"),
    "0615235.com": (PORTAL, "catalogue"),
    "jxtdw.com": (PORTAL, "listing"),
}


@dataclass
class Item:
    id: str
    label: str
    """good, spam or portal."""
    group: str
    """Budget genre (good), spam kind (spam) or page type (portal)."""
    genre: str
    """The data set it comes from."""
    url: str
    html: bytes
    content_type: str | None = None
    """The HTTP Content-Type to serve it with (None: the page's own meta tag decides)."""
    title: str | None = None
    errata: str | None = None
    """Why a labelled item is not what its label says (``ERRATA``)."""


def require(path: Path) -> Path:
    if not path.exists():
        raise SystemExit(f"development data missing: {path} (../shared/data must sit next to the repo)")
    return path


def wrap_page(title: str | None, text: str) -> bytes:
    """A plain page: the title as <title> and <h1>, each non-empty line as a paragraph."""
    escape = html_lib.escape
    head = f"<title>{escape(title)}</title>" if title else ""
    body = f"<h1>{escape(title)}</h1>" if title else ""
    body += "".join(f"<p>{escape(line)}</p>\n" for line in text.split("\n") if line.strip())
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'>{head}</head><body><article>{body}</article></body></html>"
    ).encode()


def _jsonl(path: Path) -> list[dict]:
    with gzip.open(require(path), "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def genre_items() -> list[Item]:
    items = []
    for name, (group, site, per_document_site) in GENRE_FILES.items():
        for row in _jsonl(SHARED / "zh_text" / "genres" / f"{name}.jsonl.gz"):
            text, title = row["text"], row.get("title")
            # The text of some sets starts with its own title line: do not repeat it.
            if title and text.split("\n", 1)[0].strip() == title.strip():
                text = text.split("\n", 1)[1] if "\n" in text else ""
            host = site or f"site{len(items)}.example.com"
            if per_document_site and site:
                host = f"{row['id'].rsplit('-', 1)[-1]}.{site}"
            # Threads split into chunks share their URL: each document gets its own.
            url = f"{row['url']}?part={row['id']}" if row.get("url") else f"http://{host}/{row['id']}.html"
            items.append(
                Item(
                    row["id"],
                    GOOD,
                    group,
                    name,
                    url,
                    wrap_page(title, text),
                    "text/html; charset=utf-8",
                    title,
                    ERRATA.get(row["id"]),
                )
            )
    return items


def zh_sites_items() -> list[Item]:
    folder = require(SHARED / "html" / "zh_sites")
    items = []
    with open(folder / "MANIFEST.tsv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            page_type = row["page_type"]
            label = GOOD if page_type in ARTICLE_TYPES else PORTAL
            group = (
                ("traditional" if row["script"] == "Hant" else "news" if page_type == "article" else "forum_qa")
                if label == GOOD
                else page_type
            )
            site = re.sub(r"[^a-z0-9.-]", "", row["site"].split(" ")[0].lower()) or "site.example.cn"
            url = row["url"] or f"http://{site}/{Path(row['path']).name.split('.')[0]}.html"
            items.append(
                Item(
                    f"zh_sites/{row['path']}",
                    label,
                    group,
                    "zh_sites",
                    url,
                    gzip.decompress((folder / row["path"]).read_bytes()),
                    None,
                    row["title"] or None,
                )
            )
    return items


def gb2312_items() -> list[Item]:
    folder = require(SHARED / "html" / "zh_gb2312" / "original")
    return [
        Item(
            f"zh_gb2312/{page.name}",
            GOOD,
            "news",
            "zh_gb2312",
            f"http://www.gb{page.stem.replace('-', '')[:12]}.cn/{page.stem}.html",
            page.read_bytes(),
        )
        for page in sorted(folder.glob("*.html"))
    ]


def readability_items() -> list[Item]:
    items = []
    for source in sorted(require(SHARED / "html" / "readability_testpages").glob("*/source.html.gz")):
        page = gzip.decompress(source.read_bytes())
        if sum("\u4e00" <= c <= "\u9fff" for c in page.decode("utf-8", "ignore")[:20000]) > 300:
            items.append(
                Item(
                    f"readability/{source.parent.name}",
                    GOOD,
                    "news",
                    "readability_zh",
                    f"http://www.{source.parent.name}.example.com/",
                    page,
                    "text/html; charset=utf-8",
                )
            )
    return items


def spam_items() -> list[Item]:
    folder = require(SHARED / "spam" / "zh")
    items = []
    with open(folder / "gambling_operator_pages" / "LABELS.tsv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            page = gzip.decompress((folder / row["path"]).read_bytes())
            name = Path(row["path"]).name.split(".")[0]
            items.append(
                Item(
                    f"spam/{row['path']}",
                    SPAM,
                    "gambling",
                    "gambling_operator_pages",
                    f"http://www.operator.example.com/{name}.html",
                    page,
                    None,
                    row["title"] or None,
                )
            )
    for row in _jsonl(folder / "gambling_platform_text.jsonl.gz"):
        items.append(
            Item(
                f"spam/{row['id']}",
                SPAM,
                "gambling",
                "gambling_platform_text",
                f"http://platform.example.com/{row['id']}.html",
                wrap_page(None, row["text"]),
                "text/html; charset=utf-8",
            )
        )
    return items


def cc_excerpt_items() -> list[Item]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    items = []
    with open(require(SHARED / "warc" / "commoncrawl_excerpt" / "warcfile.warc.gz"), "rb") as handle:
        for record in ArchiveIterator(handle, record_types=WarcRecordType.response):
            url = record.headers.get("WARC-Target-URI")
            host = re.sub(r"^https?://([^/]+).*$", r"\1", url)
            label = next(
                (value for key, value in CC_EXCERPT_LABELS.items() if host == key or host.endswith("." + key)), None
            )
            if label is None:
                continue
            content_type = record.http_headers.get("Content-Type") if record.http_headers else None
            items.append(
                Item(f"cc_excerpt/{host}", label[0], label[1], "cc_excerpt", url, record.reader.read(), content_type)
            )
    return items


# A generator of gambling-SEO injections into known-good documents, for recall where no labelled
# hacked-site pages exist. Its own pools, written for this purpose: brand characters, categories,
# access words and lottery games. Some of its categories ("国际") and shapes (a category with no
# access word in the title) are outside what stages/spam_injection.py looks for, so the recall per
# template shows where the shape rule stops. No brand is copied from anywhere: names are random.
BRAND_CHARS = (
    "金银宝利博盛鼎鑫财富豪皇冠星辰龙凤威尼斯新葡京永恒乐天亚洲美高梅华泰凯旋大发万达鸿运"
    "福禄寿喜和兴隆昌顺安康泰山海云雷电火风"
)
INJECTION_CATEGORIES = ("体育", "娱乐", "彩票", "电竞", "棋牌", "真人", "国际", "游戏", "现金网", "娱乐城", "竞技")
INJECTION_ACCESS = (
    "app",
    "APP下载",
    "官网",
    "官方网站",
    "(中国)官方网站",
    "网址",
    "最新网址",
    "登录入口",
    "注册",
    "平台",
    "手机版",
    "网页版",
    "app下载安装",
    "官方入口",
    "在线",
)
LOTTERY_GAMES = ("时时彩", "六合彩", "快三", "北京赛车", "幸运飞艇", "11选5", "彩票")
INJECTION_TEMPLATES = {
    "title_suffix": lambda b, c, a, g, title, text: (f"{title}_{b}{c}{a}", text),
    "title_prefix": lambda b, c, a, g, title, text: (f"{b}{c}{a}-{title}", text),
    "lead_bracket": lambda b, c, a, g, title, text: (title, f"【{b}{c}】{text}"),
    "lead_address": lambda b, c, a, g, title, text: (title, f"{b}{c}网址：{b}{c}{a}\n{text}"),
    "repeated_heading": lambda b, c, a, g, title, text: (
        f"{title}_{b}{c}",
        f"{b}{c} {b}{g} {b}{c}{a}\n{b}{g}\n{text}",
    ),
    "title_category_only": lambda b, c, a, g, title, text: (f"{title}_{b}{c}", text),
}
INJECTION_SOURCES = (
    "finance_news_163",
    "encyclopedia_wikipedia",
    "forum_tianya",
    "legal_lawrefbook",
    "essay_luxun",
    "web_documents_dureader",
)


def brand_name(rng) -> str:
    if rng.random() < 0.3:
        letters = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 4)))
        return letters + (str(rng.randint(1, 99)) if rng.random() < 0.4 else "")
    return "".join(rng.choice(BRAND_CHARS) for _ in range(2))


def seo_injection_items(per_template: int = 40, seed: int = 13) -> list[Item]:
    """Known-good documents with a random betting brand injected per template (label spam, group
    ``seo_injection``, genre ``seo_injection/<template>``), each on the site the document came from."""
    import random

    rng = random.Random(seed)
    sources = [
        row
        for name in INJECTION_SOURCES
        for row in _jsonl(SHARED / "zh_text" / "genres" / f"{name}.jsonl.gz")
        if len(row["text"]) >= 300
    ]
    items = []
    for template, inject in INJECTION_TEMPLATES.items():
        for row in rng.sample(sources, per_template):
            title, text = inject(
                brand_name(rng),
                rng.choice(INJECTION_CATEGORIES),
                rng.choice(INJECTION_ACCESS),
                rng.choice(LOTTERY_GAMES),
                row.get("title") or "",
                row["text"],
            )
            host = f"www.site{rng.randrange(10**6)}.example.cn"
            items.append(
                Item(
                    f"seo/{template}/{row['id']}",
                    SPAM,
                    "seo_injection",
                    f"seo_injection/{template}",
                    f"http://{host}/{row['id']}.html",
                    wrap_page(title, text),
                    "text/html; charset=utf-8",
                    title,
                )
            )
    return items


def real_items() -> list[Item]:
    """Every labelled real page and text (no generated injections): what a model may train on."""
    return _checked(
        genre_items() + zh_sites_items() + gb2312_items() + readability_items() + spam_items() + cc_excerpt_items()
    )


def all_items() -> list[Item]:
    """The real items and the generated SEO injections: what quality_eval.py measures."""
    return _checked(real_items() + seo_injection_items())


def _checked(items: list[Item]) -> list[Item]:
    ids: set[str] = set()
    urls: set[str] = set()
    for item in items:
        if item.id in ids:
            raise ValueError(f"duplicate item id {item.id}")
        ids.add(item.id)
        # The same page saved twice (ifeng 2020 and 2022) is two records of one URL in a crawl;
        # here each item needs its own.
        while item.url in urls:
            item.url += "#again"
        urls.add(item.url)
    return items


def write_warc(items: list[Item], path: str) -> None:
    """The items as WARC response records (original bytes, each with its URL and content type)."""
    from curate.warc_writer import write_response

    with open(path, "wb") as out:
        for item in items:
            write_response(out, item.url, item.html, item.content_type or "text/html")
