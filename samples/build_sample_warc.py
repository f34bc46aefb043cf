"""Generate ``zh_web_sample.warc.gz``, the sample crawl shipped with curate.

The output is a small, deterministic WARC/1.1 file shaped like a Common
Crawl segment: one ``warcinfo`` record, then a ``request`` / ``response`` /
``metadata`` triple per fetched URL, each record compressed as its own gzip
member (mtime 0, so two runs produce byte-identical files), plus one
``revisit`` record and one WET-style ``conversion`` record.

The pages exercise every stage of ``curate run configs/zh_web.yaml``:

* Simplified and Traditional Chinese articles in realistic portal, legacy
  (table layout, GBK era) and blog templates;
* BBS forum threads, boilerplate-heavy pages, Chinese spam (gambling,
  keyword stuffing, mild adult ads, ad blocks), very short pages and
  headline-only pages made of pure Han characters;
* English, Japanese (including kanji-heavy pages) and Korean pages;
* exact duplicates (mirrors with identical article bodies) and near
  duplicates (small edits);
* UTF-8, GBK, GB2312 (encoded as GBK, as real sites do), GB18030, Big5,
  Shift_JIS and EUC-KR bodies, with the charset declared in the HTTP header,
  in the HTML ``<meta>`` tag, in both, or nowhere;
* a few non-HTML responses (PNG, PDF, JSON);
* planted attacks for the poisoning and safety screens: ordinary articles on
  block-listed hosts, with hidden prose, a prompt injection, homoglyph-spoofed
  words, or a trigger followed by random rare Han characters, plus one WET
  ``conversion`` (text) record with tag characters and zero-width padding
  (each dropped into quarantine); and one page with contact details (kept,
  with the e-mail address and mobile number redacted).

All text comes from ``sample_texts.py`` next to this script and is original
to the curate project; every host name is fictional (``*.example``,
``*.test``, ``example.com`` and similar reserved-looking names), including
the block-listed hosts of the planted pages.

Usage::

    python samples/build_sample_warc.py [--output PATH]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import html
import struct
import sys
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sample_texts as T  # noqa: E402  (sibling data module)

from curate.warc_writer import gzip_member, record_id, serialize_record, sha1_b32  # noqa: E402
from stages.cjk import encodable  # noqa: E402

BASE_TIME = datetime.datetime(2024, 5, 1, 0, 0, 0, tzinfo=datetime.timezone.utc)
USER_AGENT = "curate-sample-crawler/1.0 (synthetic sample data)"
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def esc(text: str) -> str:
    """HTML-escape text for element content and attribute values."""
    return html.escape(text, quote=True)


def stable_int(*parts: object) -> int:
    """A deterministic integer derived from the given parts."""
    digest = hashlib.sha1("|".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def pick(items: list[str], *key: object) -> str:
    """Deterministically pick one item of a list."""
    return items[stable_int(*key) % len(items)]


def rotate(items: list[str], count: int, *key: object) -> list[str]:
    """Deterministically take ``count`` consecutive items starting at a hashed offset."""
    start = stable_int(*key) % len(items)
    return [items[(start + i) % len(items)] for i in range(min(count, len(items)))]


def warc_date(moment: datetime.datetime) -> str:
    """Format a timestamp as a WARC-Date value."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def http_date(moment: datetime.datetime) -> str:
    """Format a timestamp as an RFC 7231 HTTP date, independent of locale."""
    return (
        f"{WEEKDAYS[moment.weekday()]}, {moment.day:02d} {MONTHS[moment.month - 1]} "
        f"{moment.year} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} GMT"
    )


def fake_ip(domain: str) -> str:
    """A documentation-range IPv4 address (RFC 5737) chosen from the domain."""
    nets = ["192.0.2", "198.51.100", "203.0.113"]
    value = stable_int("ip", domain)
    return f"{nets[value % 3]}.{(value >> 8) % 250 + 2}"


def split_sentences(text: str) -> list[str]:
    """Split text after sentence-ending punctuation, keeping the punctuation."""
    out: list[str] = []
    buf = ""
    enders = "。！？!?"
    closers = "”」』）)"
    i = 0
    while i < len(text):
        buf += text[i]
        if text[i] in enders or (text[i] == "." and (i + 1 == len(text) or text[i + 1] == " ")):
            while i + 1 < len(text) and text[i + 1] in closers:
                i += 1
                buf += text[i]
            out.append(buf)
            buf = ""
        i += 1
    if buf.strip():
        out.append(buf)
    return out


# ---------------------------------------------------------------------------
# Charset profiles
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Charset:
    """How a page body is encoded and where its charset is declared."""

    codec: str  # Python codec actually used for the bytes
    http: str | None  # label in the HTTP Content-Type header, or None
    meta: str | None  # label in the HTML <meta> tag, or None


UTF8 = Charset("utf-8", "utf-8", "utf-8")
UTF8_UPPER = Charset("utf-8", "UTF-8", "UTF-8")
UTF8_META = Charset("utf-8", None, "utf-8")
UTF8_HTTP = Charset("utf-8", "utf-8", None)
UTF8_NONE = Charset("utf-8", None, None)
GBK = Charset("gbk", "gbk", "gbk")
GB2312 = Charset("gbk", "gb2312", "gb2312")
GBK_META = Charset("gbk", None, "gbk")
GB2312_META = Charset("gbk", None, "gb2312")
GBK_NONE = Charset("gbk", None, None)
GB18030 = Charset("gb18030", "GB18030", "gb18030")
BIG5 = Charset("big5", "big5", "big5")
BIG5_META = Charset("big5", None, "big5")
SJIS = Charset("shift_jis", "Shift_JIS", "Shift_JIS")
EUCKR = Charset("euc_kr", "EUC-KR", "euc-kr")


def declaration(cs: Charset) -> str:
    """Where the charset is declared: http+meta, http, meta or none."""
    if cs.http and cs.meta:
        return "http+meta"
    if cs.http:
        return "http"
    if cs.meta:
        return "meta"
    return "none"


def meta_tag(cs: Charset, style: str) -> str:
    """The charset <meta> element for a page (empty when not declared)."""
    if cs.meta is None:
        return ""
    if style == "http-equiv":
        return f'<meta http-equiv="Content-Type" content="text/html; charset={cs.meta}" />\n'
    return f'<meta charset="{cs.meta}">\n'


# ---------------------------------------------------------------------------
# Sites
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """A fictional web site."""

    domain: str
    name: str
    script: str  # hans, hant, en, ja, ko
    layout: str  # portal, legacy, blog, forum_discuz, forum_simple, ...
    scheme: str = "https"
    server: str = "nginx/1.24.0"
    icp: str = ""


SITES: dict[str, Site] = {
    s.domain: s
    for s in [
        # Simplified Chinese publishers
        Site("news.example-zh.cn", "城市新闻网", "hans", "portal", icp="京ICP备00012345号-1"),
        Site(
            "www.chengshi-wanbao.example", "城市晚报网", "hans", "legacy", "http", "Apache/2.2.15", "沪ICP备00023456号"
        ),
        Site("tech.keji-zaixian.example", "科技在线", "hans", "portal", server="openresty", icp="粤ICP备00034567号-2"),
        Site("www.wenhua-zhoukan.example", "文化周刊", "hans", "blog", icp="浙ICP备00045678号"),
        Site("kexue.tansuo-demo.example", "科学探索", "hans", "portal", icp="京ICP备00056789号-3"),
        Site("www.lvxing-biji.example", "旅行笔记", "hans", "blog", server="Apache/2.4.58", icp="滇ICP备00067890号"),
        Site("food.meishi-jia.example", "美食家", "hans", "portal", icp="川ICP备00078901号-1"),
        Site(
            "health.jiankang-zhinan.example",
            "健康指南网",
            "hans",
            "legacy",
            "http",
            "Microsoft-IIS/7.5",
            "苏ICP备00089012号",
        ),
        Site("edu.jiaoyu-guancha.example", "教育观察", "hans", "portal", icp="鄂ICP备00090123号-1"),
        Site("www.nongye-zixun.example", "农业资讯网", "hans", "legacy", "http", "Apache/2.2.15", "豫ICP备00011223号"),
        Site("blog.shuwu-demo.example", "书屋博客", "hans", "blog", server="openresty", icp="京ICP备00022334号-2"),
        Site("www.zonghe-zixun.example", "综合资讯网", "hans", "legacy", "http", "nginx/1.0.15", "鲁ICP备00033445号"),
        Site(
            "news.difang-demo.example",
            "地方新闻网",
            "hans",
            "legacy",
            "http",
            "Microsoft-IIS/6.0",
            "湘ICP备00044556号",
        ),
        # Traditional Chinese publishers
        Site("www.beicheng-daily.example", "北城日報", "hant", "portal_tw"),
        Site("life.shenghuo-tw.example", "生活誌", "hant", "blog_tw", server="Apache/2.4.58"),
        Site("www.chaxiang-zazhi.example", "茶香雜誌", "hant", "portal_tw", "http", "Apache/2.2.34"),
        Site("hk.gangcheng-post.example", "港城生活", "hant", "portal_tw"),
        Site("blog.example-tw.test", "島嶼筆記", "hant", "blog_tw"),
        # Forums
        Site(
            "bbs.luntan-demo.example", "同城论坛", "hans", "forum_discuz", "http", "Apache/2.2.15", "冀ICP备00055667号"
        ),
        Site("forum.taolun-demo.example", "生活讨论区", "hans", "forum_simple", icp="皖ICP备00066778号-1"),
        Site("bbs.example-zh.cn", "百家论坛", "hans", "forum_simple", icp="京ICP备00077889号"),
        Site("forum.example-tw.test", "島民討論區", "hant", "forum_simple", "http", "Apache/2.2.34"),
        Site("discuss.example-hk.test", "港人討論區", "hant", "forum_simple"),
        # Boilerplate-heavy portals
        Site("portal.menhu-demo.example", "综合门户网", "hans", "boilerplate", icp="京ICP备00088990号-5"),
        Site(
            "www.daohang-demo.example", "上网导航", "hans", "boilerplate", "http", "nginx/1.0.15", "闽ICP备00099001号"
        ),
        Site("member.huiyuan-tw.example", "會員服務網", "hant", "boilerplate"),
        # English
        Site("news.example.com", "Example Daily", "en", "en"),
        Site("blog.example.org", "Field Notes", "en", "en"),
        Site("www.example.net", "The Example Review", "en", "en"),
        Site("travel.example.com", "Slow Travel", "en", "en"),
        Site("www.cheap-watches.example", "Cheap Watches Outlet", "en", "en_spam"),
        Site("www.casino-bonus.example", "Casino Bonus Guide", "en", "en_spam"),
        # Japanese and Korean
        Site("www.example.jp", "サンプル情報", "ja", "ja"),
        Site("blog.example.jp", "日々のノート", "ja", "ja"),
        Site("news.example-ja.test", "見本新聞", "ja", "ja", "http", "Apache/2.2.34"),
        Site("www.example.kr", "예시 매거진", "ko", "ko"),
        # Chinese spam
        Site("www.jinding-yule.example", T.SPAM_GAMBLING_SITE, "hans", "spam", "http", "nginx/1.0.15"),
        Site("seo.guanjianci-demo.example", "关键词优化网", "hans", "spam", "http"),
        Site("www.tongcheng-jiaoyou.example", "同城交友网", "hans", "spam"),
        Site("ad.daikuan-demo.example", "便民信息港", "hans", "spam", "http"),
        Site("www.caipiao-yuce.example", "彩票预测网", "hans", "spam", "http", "Microsoft-IIS/6.0"),
        Site("www.mifang-demo.example", "健康秘方网", "hans", "spam", "http"),
        # Mirrors, content farms and reposts
        Site("mirror.zhuanzai-demo.example", "转载天下", "hans", "mirror"),
        Site("www.caiji-demo.example", "资讯聚合站", "hans", "mirror", "http", "nginx/1.0.15"),
        Site("m.example-zh.cn", "城市新闻网手机版", "hans", "mirror", icp="京ICP备00012345号-1"),
        Site("www.tw-zhuanzai.example", "好文轉載站", "hant", "mirror", "http", "Apache/2.2.34"),
        Site("agg.example.net", "Example Aggregator", "en", "en"),
        Site("www.wenzhai-demo.example", "文摘精选", "hans", "mirror", icp="京ICP备00010101号"),
        Site("www.kuaixun-demo.example", "快讯网", "hans", "mirror", "http", "Apache/2.2.15"),
        # Block-listed hosts carrying copied news (planted for screen_blocklist)
        Site("www.aomenduchang888.example", "每日快讯", "hans", "portal", "http", "nginx/1.0.15"),
        Site("news.casino-example.test", "环球新闻在线", "hans", "portal"),
        # Static and API hosts (non-HTML)
        Site("static.example-zh.cn", "static", "none", "static"),
        Site("files.example-zh.cn", "files", "none", "static"),
        Site("api.example-zh.cn", "api", "none", "static"),
    ]
}


# ---------------------------------------------------------------------------
# Page model
# ---------------------------------------------------------------------------


@dataclass
class Page:
    """One fetched URL with its HTTP payload."""

    category: str
    lang: str
    uri: str
    charset: Charset | None  # None for binary payloads
    html: str = ""
    content_type: str = "text/html"
    body: bytes = b""
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""
    record: str = "response"  # or "conversion": a WET text record instead of request/response/metadata

    def payload(self) -> bytes:
        """The body bytes exactly as served."""
        if self.charset is None:
            return self.body
        return self.html.encode(self.charset.codec)  # strict: fails loudly on unencodable text

    def http_content_type(self) -> str:
        """The Content-Type header value."""
        if self.charset is not None and self.charset.http:
            return f"{self.content_type}; charset={self.charset.http}"
        return self.content_type


# ---------------------------------------------------------------------------
# Localised labels
# ---------------------------------------------------------------------------

LABELS: dict[str, dict[str, str]] = {
    "hans": {
        "home": "首页",
        "hot": "热门文章",
        "copyright": "版权所有",
        "contact": "联系我们",
        "position": "当前位置",
        "body": "正文",
        "source": "来源",
        "author": "作者",
        "editor": "责任编辑",
        "related": "相关阅读",
        "share": "分享到",
        "prev": "上一篇",
        "next": "下一篇",
        "views": "浏览次数",
        "tags": "标签",
        "search": "搜索",
        "login": "登录",
        "register": "注册",
        "comments": "网友评论",
        "no_comments": "暂无评论，快来抢沙发吧",
        "rights": "保留所有权利",
        "ad": "广告",
        "archive": "文章归档",
        "category": "分类目录",
        "reprint": "本文转载自网络，版权归原作者所有，如有侵权请联系删除。",
        "mobile": "手机版",
        "back_top": "返回顶部",
        "police": "公网安备",
        "lang": "zh-CN",
    },
    "hant": {
        "home": "首頁",
        "hot": "熱門文章",
        "copyright": "版權所有",
        "contact": "聯絡我們",
        "position": "目前位置",
        "body": "內文",
        "source": "來源",
        "author": "作者",
        "editor": "責任編輯",
        "related": "相關閱讀",
        "share": "分享至",
        "prev": "上一篇",
        "next": "下一篇",
        "views": "瀏覽次數",
        "tags": "標籤",
        "search": "搜尋",
        "login": "登入",
        "register": "註冊",
        "comments": "網友留言",
        "no_comments": "目前還沒有留言",
        "rights": "保留一切權利",
        "ad": "廣告",
        "archive": "文章彙整",
        "category": "分類",
        "reprint": "本文轉載自網路，版權歸原作者所有，如有侵權請告知刪除。",
        "mobile": "手機版",
        "back_top": "回到頂端",
        "police": "",
        "lang": "zh-TW",
    },
}

SECTION_NAMES: dict[str, tuple[str, str]] = {
    "news": ("新闻", "新聞"),
    "tech": ("科技", "科技"),
    "culture": ("文化", "文化"),
    "science": ("科学", "科學"),
    "travel": ("旅游", "旅遊"),
    "food": ("美食", "美食"),
    "health": ("健康", "健康"),
    "education": ("教育", "教育"),
    "agriculture": ("三农", "農業"),
    "environment": ("环保", "環保"),
    "sports": ("体育", "體育"),
    "economy": ("财经", "財經"),
    "history": ("历史", "歷史"),
    "auto": ("汽车", "汽車"),
    "life": ("生活", "生活"),
    "society": ("社会", "社會"),
}


def section_name(section: str, script: str) -> str:
    """Localised section name."""
    hans, hant = SECTION_NAMES.get(section, ("资讯", "資訊"))
    return hant if script == "hant" else hans


# ---------------------------------------------------------------------------
# Shared HTML fragments
# ---------------------------------------------------------------------------


def nav_list(labels: list[str], css: str, prefix: str = "/channel/") -> str:
    """A <ul> navigation list."""
    items = []
    for i, label in enumerate(labels):
        href = "/" if i == 0 else f"{prefix}{i:02d}/"
        items.append(f'<li><a href="{href}">{esc(label)}</a></li>')
    return f'<ul class="{css}">' + "".join(items) + "</ul>"


def link_list(titles: list[str], css: str, base: str, key: str) -> str:
    """A <ul> of article links with deterministic fake hrefs."""
    items = [
        f'<li><a href="{base}{stable_int(key, t) % 90000 + 10000}.html" title="{esc(t)}">{esc(t)}</a></li>'
        for t in titles
    ]
    return f'<ul class="{css}">' + "".join(items) + "</ul>"


def byline_html(script: str, date: str, source: str, author: str) -> str:
    """The date / source / author line of an article."""
    lab = LABELS[script]
    return (
        f'<div class="article-meta"><span class="time">{esc(date)}</span> '
        f'<span class="source">{lab["source"]}：{esc(source)}</span> '
        f'<span class="author">{lab["author"]}：{esc(author)}</span></div>'
    )


def article_inner(script: str, title: str, byline: str, paragraphs: list[str], indent: bool, editor: str) -> str:
    """Headline, byline and paragraphs: the part an extractor should return.

    Mirrors reuse this exact string so that their extracted text is identical
    to the original's.
    """
    pad = "\u3000\u3000" if indent else ""
    paras = "\n".join(f"<p>{pad}{esc(p)}</p>" for p in paragraphs)
    lab = LABELS[script]
    return (
        f"<h1>{esc(title)}</h1>\n{byline}\n"
        f'<div class="article-content">\n{paras}\n'
        f'<p class="editor">（{lab["editor"]}：{esc(editor)}）</p>\n</div>'
    )


def zh_footer(site: Site, script: str, variant: int = 0) -> str:
    """A Chinese site footer with copyright, contact and (mainland) ICP lines."""
    lab = LABELS[script]
    links = T.HANT_FOOTER_LINKS if script == "hant" else T.HANS_FOOTER_LINKS
    footer_links = " | ".join(f'<a href="/about/{i}.html">{esc(x)}</a>' for i, x in enumerate(links))
    lines = [f"<p>{footer_links}</p>", f"<p>{lab['copyright']} &copy; 2010-2024 {esc(site.name)} {lab['rights']}</p>"]
    if script == "hans":
        lines.append(
            f'<p><a href="https://beian.example/" rel="nofollow">{esc(site.icp or "京ICP备00000001号")}</a>'
            f" {lab['police']} 11010502000{stable_int(site.domain) % 900 + 100}号</p>"
        )
        lines.append(
            f"<p>{lab['contact']}：service@{esc(site.domain)} "
            f"违法和不良信息举报电话：010-0000{stable_int('tel', site.domain) % 9000 + 1000}</p>"
        )
    else:
        lines.append(
            f"<p>{lab['contact']}：service@{esc(site.domain)} "
            f"客服專線：(02) 0000-{stable_int('tel', site.domain) % 9000 + 1000}</p>"
        )
    if variant:
        lines.append(f'<p class="disclaimer">{lab["reprint"]}</p>')
    return '<footer class="site-footer">\n' + "\n".join(lines) + "\n</footer>"


def head_block(lang: str, title: str, meta: str, description: str, keywords: str, extra: str = "") -> str:
    """The document start up to and including </head>."""
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n{meta}'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n"
        f'<meta name="keywords" content="{esc(keywords)}">\n'
        f'<meta name="description" content="{esc(description)}">\n'
        f'<link rel="stylesheet" href="/static/css/main.css">\n{extra}</head>\n'
    )


# ---------------------------------------------------------------------------
# Chinese article layouts
# ---------------------------------------------------------------------------


@dataclass
class ArticleSpec:
    """Everything needed to render one Chinese article page."""

    script: str
    section: str
    title: str
    paragraphs: list[str]
    date: str
    author: str
    editor: str
    hot_titles: list[str]
    inner: str = ""


def layout_portal(site: Site, art: ArticleSpec, cs: Charset) -> str:
    """Modern news-portal layout (HTML5 header/nav/article/aside/footer)."""
    lab = LABELS[art.script]
    nav = T.HANT_NAV if art.script == "hant" else T.HANS_NAV
    sec = section_name(art.section, art.script)
    head = head_block(
        lab["lang"],
        f"{art.title} - {site.name}",
        meta_tag(cs, "html5"),
        art.paragraphs[0][:60],
        f"{sec},{site.name},{art.title[:8]}",
    )
    tags = " ".join(f'<a href="/tag/{i}">{esc(t)}</a>' for i, t in enumerate([sec, site.name[:2] + sec]))
    share_targets = ["Facebook", "LINE", "Email"] if art.script == "hant" else ["微信", "微博", "QQ空间"]
    share = " ".join(f'<a href="#share-{i}">{esc(x)}</a>' for i, x in enumerate(share_targets))
    return (
        head + "<body>\n"
        f'<header class="site-header"><div class="logo"><a href="/">{esc(site.name)}</a></div>\n'
        f'<nav class="main-nav">{nav_list(nav[:14], "nav")}</nav>\n'
        f'<div class="user-bar"><a href="/login">{lab["login"]}</a> | '
        f'<a href="/register">{lab["register"]}</a></div></header>\n'
        f'<div class="breadcrumb">{lab["position"]}：<a href="/">{lab["home"]}</a> &gt; '
        f'<a href="/{art.section}/">{esc(sec)}</a> &gt; {lab["body"]}</div>\n'
        '<main class="container">\n<article class="article">\n'
        f"{art.inner}\n"
        f'<div class="article-tags">{lab["tags"]}：{tags}</div>\n'
        f'<div class="share">{lab["share"]}：{share}</div>\n'
        "</article>\n"
        f'<aside class="sidebar"><div class="widget hot"><h3>{lab["hot"]}</h3>'
        f"{link_list(art.hot_titles, 'hot-list', f'/{art.section}/', site.domain)}</div>\n"
        '<div class="widget ad"><a href="/ad/click?id=3" rel="nofollow">'
        f'<img src="/static/ad/banner300x250.jpg" alt="{lab["ad"]}"></a></div></aside>\n'
        "</main>\n"
        f"{zh_footer(site, art.script)}\n"
        '<script src="/static/js/app.js"></script>\n</body>\n</html>\n'
    )


def layout_legacy(site: Site, art: ArticleSpec, cs: Charset) -> str:
    """GBK-era layout: XHTML transitional, table navigation, #endText body."""
    lab = LABELS[art.script]
    sec = section_name(art.section, art.script)
    meta = meta_tag(cs, "http-equiv")
    nav_cells = "".join(f'<td><a href="/{i:02d}/index.htm">{esc(x)}</a></td>' for i, x in enumerate(T.HANS_NAV[:12]))
    views = stable_int("views", site.domain, art.title) % 9000 + 120
    prev_t, next_t = art.hot_titles[0], art.hot_titles[1]
    return (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        f'<html xmlns="http://www.w3.org/1999/xhtml" lang="{lab["lang"]}">\n<head>\n{meta}'
        f"<title>{esc(art.title)}_{esc(sec)}_{esc(site.name)}</title>\n"
        f'<meta name="keywords" content="{esc(sec)},{esc(art.title[:10])}" />\n'
        '<link href="/css/style.css" rel="stylesheet" type="text/css" />\n</head>\n<body>\n'
        '<div id="top"><table width="960" border="0" cellspacing="0" cellpadding="0">'
        f"<tr>{nav_cells}</tr></table></div>\n"
        f'<div id="position">{lab["position"]}：<a href="/">{lab["home"]}</a> &gt;&gt; '
        f'<a href="/{art.section}/">{esc(sec)}</a></div>\n'
        '<div id="wrap">\n<div id="left">\n'
        f"{art.inner}\n"
        f'<div class="info">{lab["views"]}：{views}</div>\n'
        f'<div class="page">{lab["prev"]}：<a href="/{art.section}/1.htm">{esc(prev_t)}</a><br />'
        f'{lab["next"]}：<a href="/{art.section}/2.htm">{esc(next_t)}</a></div>\n'
        "</div>\n"
        f'<div id="right"><div class="box"><h3>{lab["hot"]}</h3>'
        f"{link_list(art.hot_titles[2:], 'list', f'/{art.section}/', site.domain)}</div>\n"
        f'<div class="box"><h3>{lab["related"]}</h3>'
        f"{link_list(art.hot_titles[:3], 'list', '/html/', site.domain + 'r')}</div></div>\n"
        "</div>\n"
        f'<div id="footer">{zh_footer(site, art.script)}</div>\n</body>\n</html>\n'
    )


def layout_blog(site: Site, art: ArticleSpec, cs: Charset) -> str:
    """Blog layout (WordPress-like post, sidebar widgets, empty comments)."""
    lab = LABELS[art.script]
    sec = section_name(art.section, art.script)
    head = head_block(
        lab["lang"],
        f"{art.title} | {site.name}",
        meta_tag(cs, "html5"),
        art.paragraphs[0][:50],
        sec,
        '<link rel="alternate" type="application/rss+xml" href="/feed/">\n',
    )
    months = ["2024年4月", "2024年3月", "2024年2月", "2024年1月", "2023年12月"]
    archive = "".join(f'<li><a href="/archives/date/{i}">{m}</a></li>' for i, m in enumerate(months))
    cats = "".join(
        f'<li><a href="/category/{i}">{esc(section_name(c, art.script))}</a></li>'
        for i, c in enumerate(["culture", "travel", "food", "life", "history"])
    )
    return (
        head + '<body class="single-post">\n<div id="page">\n'
        f'<div id="header"><h2 class="site-title"><a href="/">{esc(site.name)}</a></h2>'
        f'<p class="site-desc">{esc(site.name)}</p>'
        f"{nav_list([lab['home'], sec, lab['archive'], lab['contact']], 'menu')}</div>\n"
        '<div id="content">\n<div class="post">\n'
        f"{art.inner}\n"
        f'<div class="post-footer">{lab["category"]}：<a href="/category/{art.section}">{esc(sec)}</a></div>\n'
        "</div>\n"
        '<div id="respond" class="comment-respond"><form action="/wp-comments-post.php" method="post">'
        f'<textarea name="comment" placeholder="{lab["no_comments"]}"></textarea>'
        f'<input type="submit" value="{lab["comments"]}"></form></div>\n'
        "</div>\n"
        f'<div id="sidebar"><div class="widget"><h3>{lab["hot"]}</h3>'
        f"{link_list(art.hot_titles, 'recent', '/archives/', site.domain)}</div>\n"
        f'<div class="widget"><h3>{lab["category"]}</h3><ul>{cats}</ul></div>\n'
        f'<div class="widget"><h3>{lab["archive"]}</h3><ul>{archive}</ul></div></div>\n'
        f"{zh_footer(site, art.script)}\n</div>\n</body>\n</html>\n"
    )


def layout_mirror(site: Site, inner: str, script: str, title: str, cs: Charset, hot: list[str], variant: int) -> str:
    """Content-farm / mirror layout wrapped around an existing article body."""
    lab = LABELS[script]
    nav = T.HANT_NAV if script == "hant" else T.HANS_NAV
    words = T.HANT_SITE_WORDS if script == "hant" else T.HANS_SITE_WORDS
    head = head_block(lab["lang"], f"{title}_{site.name}", meta_tag(cs, "html5"), title, title[:10])
    return (
        head + "<body>\n"
        f'<div class="topbar"><a href="/">{esc(site.name)}</a> '
        f"{nav_list(rotate(nav, 10, site.domain), 'topnav')}</div>\n"
        f'<div class="subnav">{nav_list(rotate(words, 8, site.domain, "w"), "sub")}</div>\n'
        f'<div class="wrap"><div class="main"><div class="news-content">\n{inner}\n</div>\n'
        f'<div class="pager"><a href="/list/1.html">{lab["prev"]}</a> '
        f'<a href="/list/2.html">{lab["next"]}</a></div></div>\n'
        f'<div class="side"><h4>{lab["hot"]}</h4>{link_list(hot, "side-list", "/html/", site.domain)}</div></div>\n'
        f"{zh_footer(site, script, variant)}\n</body>\n</html>\n"
    )


def render_article(site: Site, art: ArticleSpec, cs: Charset) -> str:
    """Render an article with the site's layout."""
    if site.layout in ("portal", "portal_tw"):
        return layout_portal(site, art, cs)
    if site.layout == "legacy":
        return layout_legacy(site, art, cs)
    if site.layout in ("blog", "blog_tw"):
        return layout_blog(site, art, cs)
    raise ValueError(f"no article layout for {site.layout}")


# ---------------------------------------------------------------------------
# Forum layouts
# ---------------------------------------------------------------------------


def forum_time(thread_no: int, post_no: int) -> str:
    """Deterministic post timestamps, increasing within a thread."""
    start = datetime.datetime(2024, 4, 1, 8, 0) + datetime.timedelta(
        days=thread_no * 2 % 27, minutes=thread_no * 37 % 600
    )
    moment = start + datetime.timedelta(minutes=post_no * 23 + post_no * post_no * 7)
    return moment.strftime("%Y-%m-%d %H:%M")


def layout_forum_discuz(site: Site, thread: dict[str, object], thread_no: int, cs: Charset) -> str:
    """Discuz!-style thread page with table-based posts."""
    script = str(thread["script"])
    lab = LABELS[script]
    posts = list(thread["posts"])  # type: ignore[arg-type]
    title = str(thread["title"])
    board = str(thread["board"])
    floor_names = ["楼主", "沙发", "板凳", "地板"]
    rows = []
    for i, (user, text) in enumerate(posts):
        floor = floor_names[i] if i < len(floor_names) else f"{i + 1}#"
        rows.append(
            f'<div id="post_{thread_no * 100 + i}" class="plhin"><table cellspacing="0" cellpadding="0"><tr>'
            '<td class="pls"><div class="authi">'
            f'<a href="/space-uid-{stable_int(user) % 90000 + 1000}.html" class="xw1">{esc(user)}</a></div>'
            f'<p class="ulv">注册会员</p></td>'
            f'<td class="plc"><div class="pi"><strong><a href="#post_{i}">{floor}</a></strong>'
            f"<em>发表于 {forum_time(thread_no, i)}</em></div>"
            f'<div class="pct"><div class="t_fsz"><table cellspacing="0" cellpadding="0"><tr>'
            f'<td class="t_f" id="postmessage_{thread_no * 100 + i}">{esc(text)}</td></tr></table></div></div>'
            '<div class="po"><a href="#">回复</a> <a href="#">支持</a> <a href="#">举报</a></div>'
            "</td></tr></table></div>"
        )
    meta = meta_tag(cs, "http-equiv")
    return (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        f'<html xmlns="http://www.w3.org/1999/xhtml" lang="{lab["lang"]}">\n<head>\n{meta}'
        f"<title>{esc(title)} - {esc(board)} - {esc(site.name)} - Powered by Discuz!</title>\n"
        f'<meta name="keywords" content="{esc(title)}" />\n</head>\n<body id="nv_forum">\n'
        f'<div id="toptb"><a href="/member.php?mod=logging&amp;action=login">{lab["login"]}</a> '
        f'<a href="/member.php?mod=register">{lab["register"]}</a></div>\n'
        f'<div id="hd"><h2><a href="/">{esc(site.name)}</a></h2>'
        f"{nav_list(['论坛', '门户', '群组', '排行榜', '帮助'], 'nv')}</div>\n"
        f'<div id="pt" class="bm cl"><a href="/">{esc(site.name)}</a> &rsaquo; <a href="/forum.php">论坛</a> &rsaquo; '
        f'<a href="/forum-{thread_no % 7 + 2}-1.html">{esc(board)}</a> &rsaquo; {esc(title)}</div>\n'
        f'<div id="ct"><div id="postlist" class="pl bm"><table cellspacing="0" cellpadding="0"><tr>'
        f'<td class="pls ptn">查看: {stable_int("v", title) % 5000 + 200}'
        f'<span class="pipe">|</span>回复: {len(posts) - 1}</td>'
        '<td class="plc ptm pbn">'
        f'<h1 class="ts"><span id="thread_subject">{esc(title)}</span></h1></td></tr></table>\n'
        + "\n".join(rows)
        + "\n</div>\n"
        '<div id="f_pst"><form method="post" action="/forum.php?mod=post&amp;action=reply">'
        '<textarea name="message"></textarea><button type="submit">发表回复</button></form></div></div>\n'
        f'<div id="ft">{zh_footer(site, script)}<p>Powered by Discuz! X3.4</p></div>\n</body>\n</html>\n'
    )


def layout_forum_simple(site: Site, thread: dict[str, object], thread_no: int, cs: Charset) -> str:
    """A modern forum thread: the opening post as the topic, replies in a comment list."""
    script = str(thread["script"])
    lab = LABELS[script]
    posts = list(thread["posts"])  # type: ignore[arg-type]
    title = str(thread["title"])
    board = str(thread["board"])
    posted = "發表於" if script == "hant" else "发表于"
    reply = "回覆" if script == "hant" else "回复"
    all_replies = "全部回覆" if script == "hant" else "全部回复"
    opener_user, opener_text = posts[0]
    replies = []
    for i, (user, text) in enumerate(posts[1:], start=1):
        replies.append(
            f'<li class="comment" id="reply-{thread_no * 100 + i}"><div class="comment-author">'
            f'<a href="/u/{stable_int(user) % 50000}">{esc(user)}</a></div>'
            f'<div class="comment-meta">#{i + 1} {posted} <time>{forum_time(thread_no, i)}</time></div>'
            f'<div class="comment-content"><p>{esc(text)}</p></div>'
            f'<div class="reply"><a href="#reply-form">{reply}</a> <a href="#">+1</a></div></li>'
        )
    boards = (
        ["閒聊", "美食旅遊", "汽機車", "升學討論", "3C", "理財"]
        if script == "hant"
        else ["灌水", "美食", "数码", "家居", "宠物", "情感"]
    )
    head = head_block(lab["lang"], f"{title} - {board} - {site.name}", meta_tag(cs, "html5"), title, board)
    return (
        head + "<body>\n"
        f'<header><a class="brand" href="/">{esc(site.name)}</a>{nav_list(boards, "boards", "/board/")}'
        f'<form class="search" action="/search"><input name="q"><button>{lab["search"]}</button></form></header>\n'
        f'<main><div class="crumbs"><a href="/">{lab["home"]}</a> / '
        f'<a href="/board/{thread_no}">{esc(board)}</a></div>\n'
        f'<article class="topic" id="topic-{thread_no}"><h1 class="thread-title">{esc(title)}</h1>\n'
        f'<div class="post-author"><a href="/u/{stable_int(opener_user) % 50000}">{esc(opener_user)}</a></div>'
        f'<div class="post-meta">#1 {posted} <time>{forum_time(thread_no, 0)}</time></div>\n'
        f'<div class="post-body"><p>{esc(opener_text)}</p></div></article>\n'
        f'<div id="comments" class="comments-area"><h3 class="comments-title">{all_replies}（{len(replies)}）</h3>\n'
        '<ol class="comment-list">\n' + "\n".join(replies) + "\n</ol></div>\n"
        f'<div class="reply-box" id="reply-form"><textarea></textarea><button>{reply}</button></div></main>\n'
        f"{zh_footer(site, script)}\n</body>\n</html>\n"
    )


# ---------------------------------------------------------------------------
# Boilerplate, short, headline-only and spam pages
# ---------------------------------------------------------------------------


def layout_boilerplate(site: Site, spec: dict[str, object], cs: Charset, all_titles: list[str]) -> str:
    """Navigation-heavy page with only one or two short content sentences."""
    script = str(spec["script"])
    lab = LABELS[script]
    kind = str(spec["kind"])
    title = str(spec["title"])
    sentences = [str(s) for s in spec["sentences"]]  # type: ignore[union-attr]
    nav = T.HANT_NAV if script == "hant" else T.HANS_NAV
    words = T.HANT_SITE_WORDS if script == "hant" else T.HANS_SITE_WORDS
    friends = T.HANT_FRIEND_LINKS if script == "hant" else T.HANS_FRIEND_LINKS
    user_l, pass_l, remember, forgot = (
        ("帳號", "密碼", "記住我", "忘記密碼") if script == "hant" else ("用户名", "密码", "记住我", "忘记密码")
    )
    cookie_text = (
        "本網站使用Cookie技術。繼續瀏覽即表示您同意我們的隱私權政策。"
        if script == "hant"
        else "我们使用Cookie来提供和改进服务。继续浏览即表示您同意我们的隐私政策。"
    )
    accept, reject = ("接受", "拒絕") if script == "hant" else ("接受", "拒绝")
    friends_label = "友站連結" if script == "hant" else "友情链接"
    login_box = (
        f'<div class="login-box"><form action="/login" method="post"><label>{user_l}<input name="u"></label>'
        f'<label>{pass_l}<input type="password" name="p"></label><label><input type="checkbox"> {remember}</label>'
        f'<button>{lab["login"]}</button> <a href="/register">{lab["register"]}</a>'
        f' <a href="/forgot">{forgot}</a></form></div>'
    )
    blocks: list[str] = []
    if kind in ("portal", "list", "tag", "sitemap"):
        for b in range(2 if kind != "sitemap" else 3):
            blocks.append(
                f'<div class="block"><h3><a href="/ch/{b}/">{esc(words[(b * 3) % len(words)])}</a></h3>'
                f"{link_list(rotate(all_titles, 6, site.domain, kind, b), 'links', f'/ch/{b}/', site.domain)}</div>"
            )
    if kind == "search":
        blocks.append(
            '<form class="big-search" action="/s"><input name="wd" value="春季养生">'
            f"<button>{lab['search']}</button></form>"
        )
        blocks.append(
            '<div class="hot-words">热门搜索：'
            + " ".join(f'<a href="/s?wd={i}">{esc(w)}</a>' for i, w in enumerate(words[:8]))
            + "</div>"
        )
    if kind == "app":
        blocks.append(
            '<div class="qrcode"><img src="/static/img/qrcode.png" alt="二维码"></div>'
            '<div class="stores"><a href="#">iPhone版</a> <a href="#">Android版</a></div>'
        )
    if kind == "contact":
        blocks.append(
            f'<ul class="contact"><li>电话：010-0000{stable_int(site.domain) % 9000 + 1000}</li>'
            f"<li>邮箱：contact@{esc(site.domain)}</li><li>传真：010-00001111</li></ul>"
        )
    if kind == "notfound":
        blocks.append(
            f'<div class="err-links"><a href="/">{lab["home"]}</a> '
            '<a href="javascript:history.back()">返回上一页</a></div>'
        )
    content = "".join(f"<p>{esc(s)}</p>" for s in sentences)
    # Listing-type pages carry a second navigation row; utility pages (login, 404,
    # search, cookie settings, ...) only the main one.
    listing = kind in ("portal", "list", "tag", "sitemap")
    subnav = f'<nav class="subnav">{nav_list(words, "subnav", "/svc/")}</nav>' if listing else ""
    head = head_block(lab["lang"], f"{title} - {site.name}", meta_tag(cs, "html5"), sentences[0], ",".join(words[:6]))
    return (
        head + "<body>\n"
        f'<div id="cookie-notice" class="cookie-banner"><span>{esc(cookie_text)}</span>'
        f"<button>{accept}</button><button>{reject}</button></div>\n"
        f'<div class="top">{login_box}</div>\n'
        f'<header><div class="logo"><a href="/">{esc(site.name)}</a></div><nav>{nav_list(nav, "nav")}</nav>\n'
        f"{subnav}</header>\n"
        f'<div class="main"><h1>{esc(title)}</h1><div class="notice">{content}</div>\n'
        + "\n".join(blocks)
        + "</div>\n"
        f'<div class="friend-links"><h4>{friends_label}</h4>{nav_list(friends, "flinks", "http://link.example/")}</div>\n'
        f"{zh_footer(site, script)}\n</body>\n</html>\n"
    )


def layout_short(site: Site, script: str, title: str, text: str, cs: Charset) -> str:
    """A tiny page: a notice of one sentence."""
    lab = LABELS[script]
    return (
        head_block(lab["lang"], f"{title} - {site.name}", meta_tag(cs, "html5"), text[:30], title)
        + f'<body>\n<div class="header"><a href="/">{lab["home"]}</a></div>\n'
        f'<div class="content"><h2>{esc(title)}</h2><p>{esc(text)}</p></div>\n</body>\n</html>\n'
    )


def layout_headline(site: Site, headline: str, cs: Charset) -> str:
    """A headline-only page (the body was not captured)."""
    return (
        f'<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n{meta_tag(cs, "html5")}'
        f"<title>{esc(headline)}</title>\n</head>\n"
        f"<body>\n<h1>{esc(headline)}</h1>\n</body>\n</html>\n"
    )


def spam_page(site: Site, title: str, blocks: list[str], cs: Charset, keywords: str) -> str:
    """Common frame for Chinese spam pages."""
    return (
        head_block("zh-CN", title, meta_tag(cs, "html5"), title, keywords)
        + '<body>\n<div class="float-ad"><a href="/go?u=1">立即注册</a></div>\n'
        + "\n".join(blocks)
        + f'\n<div class="foot">Copyright &copy; 2024 {esc(site.name)}</div>\n</body>\n</html>\n'
    )


def build_zh_spam(idx: int, site: Site, cs: Charset) -> tuple[str, str]:
    """Return (note, html) for the idx-th Chinese spam page."""
    games, promos = T.SPAM_GAMBLING_GAMES, T.SPAM_GAMBLING_PROMOS
    name = T.SPAM_GAMBLING_SITE
    if idx == 0:
        blocks = [f"<marquee>{esc(' ★ '.join(promos))}</marquee>", f"<h1>{esc(name)}官方网站</h1>"]
        for rep in range(6):
            blocks.append(
                "<ul>" + "".join(f'<li><a href="/g/{i}">{esc(g)}</a></li>' for i, g in enumerate(games)) + "</ul>"
            )
            for g in rotate(games, 6, "gamb", rep):
                line = f"{g}官方网站 {g}注册 {g}开户 {g}平台 {g}技巧 {g}玩法 {pick(promos, g, rep)} {name}"
                blocks.append(f"<p>{esc(line)}</p>")
        return "gambling, long repetitive", spam_page(
            site, f"{name}-百家乐-时时彩-体育投注-官方网站", blocks, cs, ",".join(games)
        )
    if idx == 1:
        return "gambling, very short", spam_page(
            site, "百家乐真人在线", ['<p>百家乐真人在线 注册送彩金 <a href="/reg">点击进入</a></p>'], cs, "百家乐"
        )
    if idx == 2:
        rows = []
        teams = ["东城队", "西城队", "南湖队", "北山队", "江北队", "河西队"]
        for i in range(6):
            a, b = teams[i], teams[(i + 3) % 6]
            rows.append(
                f"<tr><td>{a} vs {b}</td><td>{1.5 + i * 0.15:.2f}</td><td>{3.1 + i * 0.1:.2f}</td>"
                f'<td>{2.2 + i * 0.2:.2f}</td><td><a href="/bet/{i}">立即投注</a></td></tr>'
            )
        blocks = [f"<h1>{esc(name)} 体育投注</h1>", "<table>" + "".join(rows) + "</table>"]
        blocks += [f"<p>{esc(p)}</p>" for p in promos] + [f"<p>{esc(p)}</p>" for p in promos[:4]]
        return "gambling odds table", spam_page(site, f"体育投注 - {name}", blocks, cs, "体育投注,足球投注")
    if idx == 3:
        cities, sufs = T.SPAM_SEO_CITIES, T.SPAM_SEO_SUFFIXES
        blocks = ["<p>关键词：" + esc(",".join(c + s for c in cities[:8] for s in sufs[:3])) + "</p>"]
        for c in cities:
            blocks.append(f"<h2>{esc(c)}搬家公司</h2>")
            blocks.append(
                "<p>"
                + esc(
                    f"{c}搬家公司哪家好？{c}搬家公司为您提供{c}搬家服务，{c}搬家电话、{c}搬家价格、{c}搬家多少钱，"
                    f"欢迎咨询{c}搬家公司。" + " ".join(c + s for s in sufs)
                )
                + "</p>"
            )
        return "SEO keyword stuffing (cities)", spam_page(
            site,
            "北京搬家公司_上海搬家公司_广州搬家公司_搬家公司电话",
            blocks,
            cs,
            ",".join(c + "搬家公司" for c in cities),
        )
    if idx == 4:
        kw = T.SPAM_DIET_KEYWORDS
        blocks = [f"<p>关键词：{esc('，'.join(rotate(kw, 10, 'diet', r)))}</p>" for r in range(14)]
        blocks.append("<p>本站提供最好的减肥产品。</p>")
        return "SEO keyword lines", spam_page(site, "减肥茶_减肥药_快速减肥_减肥方法大全", blocks, cs, ",".join(kw))
    if idx == 5:
        kw = T.SPAM_THESIS_KEYWORDS
        blocks = []
        for r in range(10):
            a, b, c = rotate(kw, 3, "thesis", r)
            blocks.append(f"<p>{esc(f'{a}哪家好，专业{b}，{c}服务，{a}{b}{c}，{a}价格，正规{b}机构，{c}包过。')}</p>")
        return "SEO spun keyword sentences", spam_page(
            site, "代写论文_论文代写_毕业论文代写_论文发表", blocks, cs, ",".join(kw)
        )
    if idx == 6:
        ph = T.SPAM_ADULT_PHRASES
        blocks = ["<h1>同城交友 美女在线</h1>"]
        for r in range(8):
            blocks.append(
                "<ul>"
                + "".join(
                    f'<li><a href="/room/{r}{i}">{esc(p)}</a></li>' for i, p in enumerate(rotate(ph, 5, "adult", r))
                )
                + "</ul>"
            )
            blocks.append(f"<p>{esc(' '.join(rotate(ph, 4, 'adultp', r)))}</p>")
        return "adult ads, long repetitive (mild)", spam_page(
            site, "同城交友_美女视频聊天_在线直播", blocks, cs, ",".join(ph)
        )
    if idx == 7:
        return "adult ads, short (mild)", spam_page(
            site,
            "美女视频聊天",
            ['<p>同城交友 美女视频聊天 <a href="/in">点击进入</a> 未满十八岁禁止访问</p>'],
            cs,
            "交友",
        )
    if idx == 8:
        ph = T.SPAM_LOAN_PHRASES
        blocks = [
            f'<div class="ad-block"><h3>{esc(ph[r % len(ph)])}</h3>'
            f"<p>{esc('，'.join(rotate(ph, 4, 'loan', r)))}，联系微信：daikuan{r}88</p></div>"
            for r in range(9)
        ]
        return "loan ad blocks", spam_page(site, "无抵押贷款_当天放款_小额贷款", blocks, cs, ",".join(ph))
    if idx == 9:
        ph = T.SPAM_INVOICE_PHRASES
        blocks = [f"<p>{esc(' '.join(ph))}</p>", f"<p>{esc(' '.join(reversed(ph)))}</p>"]
        return "invoice ads", spam_page(site, "代开发票", blocks, cs, ",".join(ph))
    if idx == 10:
        return "red-packet bait, very short", spam_page(
            site, "领取红包", [f'<p><a href="/hb">{esc(T.SPAM_SHORT_LINES[0])}</a></p>'], cs, "红包"
        )
    if idx == 11:
        ph = T.SPAM_JOB_PHRASES
        blocks = [f"<p>{esc('！'.join(rotate(ph, 5, 'job', r)))}！</p>" for r in range(8)]
        blocks.append(f"<p>{esc(T.SPAM_SHORT_LINES[1])}</p>")
        return "part-time job scam ads", spam_page(site, "手机兼职_日赚三百_在家赚钱", blocks, cs, ",".join(ph))
    if idx == 12:
        ph = T.SPAM_LOTTERY_PHRASES
        blocks = []
        for r in range(12):
            nums = " ".join(f"{(stable_int('lot', r, k) % 49) + 1:02d}" for k in range(7))
            blocks.append(f"<p>第2024{51 + r:03d}期 {esc(' '.join(rotate(ph, 4, 'lotto', r)))} {nums}</p>")
        return "lottery prediction, long repetitive", spam_page(
            site, "今晚必中_特码资料_免费资料大全", blocks, cs, ",".join(ph)
        )
    if idx == 13:
        ph = T.SPAM_MEDICINE_PHRASES
        blocks = [f"<h1>{esc(ph[0])}</h1>"]
        for r in range(6):
            blocks.append(f"<p>{esc('，'.join(rotate(ph, 5, 'med', r)))}！咨询热线：400-000-{r}{r}{r}{r}</p>")
        return "miracle-cure ads", spam_page(site, "祖传秘方_三天见效_无效退款", blocks, cs, ",".join(ph))
    raise IndexError(idx)


# ---------------------------------------------------------------------------
# English, Japanese and Korean layouts
# ---------------------------------------------------------------------------


def layout_en(site: Site, title: str, paragraphs: list[str], date: str, author: str, related: list[str]) -> str:
    """English article page."""
    nav = ["Home", "World", "Science", "Culture", "Travel", "Food", "Opinion", "Newsletter"]
    paras = "\n".join(f"<p>{esc(p)}</p>" for p in paragraphs)
    return (
        head_block("en", f"{title} | {site.name}", '<meta charset="utf-8">\n', paragraphs[0][:150], "news, features")
        + f'<body>\n<header><a class="brand" href="/">{esc(site.name)}</a>'
        f"<nav>{nav_list(nav, 'nav', '/section/')}</nav>"
        '<a href="/subscribe" class="cta">Subscribe</a></header>\n'
        f"<main><article><h1>{esc(title)}</h1>\n"
        f'<p class="byline">By {esc(author)} &middot; <time>{date}</time></p>\n{paras}\n</article>\n'
        f"<aside><h2>Most read</h2>{link_list(related, 'most-read', '/stories/', site.domain)}</aside></main>\n"
        '<div class="cookie">We use cookies to improve your experience. <button>Accept</button></div>\n'
        f"<footer><p>&copy; 2024 {esc(site.name)}. All rights reserved.</p>"
        '<p><a href="/privacy">Privacy</a> | <a href="/terms">Terms</a> | <a href="/contact">Contact</a></p>'
        "</footer>\n"
        "</body>\n</html>\n"
    )


def layout_en_spam(site: Site, keywords: list[str], title: str) -> str:
    """English keyword-stuffing spam page."""
    blocks = []
    for r in range(10):
        words = rotate(keywords, 6, "enspam", site.domain, r)
        blocks.append(
            f"<p>{esc(' '.join(words))} - {esc(words[0])} at the lowest price, {esc(words[1])} today, click here!</p>"
        )
    return (
        head_block("en", title, '<meta charset="utf-8">\n', title, ", ".join(keywords))
        + "<body>\n<h1>"
        + esc(title)
        + "</h1>\n"
        + "\n".join(blocks)
        + '\n<p><a href="/buy">BUY NOW</a> <a href="/buy">CLICK HERE</a></p>\n</body>\n</html>\n'
    )


def layout_ja(site: Site, art: dict[str, object], cs: Charset, date: str) -> str:
    """Japanese article page."""
    title = str(art["title"])
    paragraphs = [str(p) for p in art["paragraphs"]]  # type: ignore[union-attr]
    nav = ["ホーム", "ニュース", "くらし", "グルメ", "旅行", "カルチャー", "お問い合わせ"]
    paras = "\n".join(f"<p>{esc(p)}</p>" for p in paragraphs)
    return (
        head_block("ja", f"{title}｜{site.name}", meta_tag(cs, "html5"), paragraphs[0][:80], "記事")
        + f'<body>\n<header><p class="site-name"><a href="/">{esc(site.name)}</a></p>'
        f"<nav>{nav_list(nav, 'gnav', '/cat/')}</nav></header>\n"
        f'<main><article class="entry"><h1>{esc(title)}</h1><p class="date">{date}</p>\n'
        f'<div class="entry-body">\n{paras}\n</div></article>\n'
        '<aside><h2>人気の記事</h2><ul><li><a href="/a/1">季節の話題</a></li>'
        '<li><a href="/a/2">週末のおでかけ</a></li></ul></aside></main>\n'
        f"<footer><p>Copyright &copy; 2024 {esc(site.name)} All Rights Reserved.</p></footer>\n</body>\n</html>\n"
    )


def layout_ko(site: Site, art: dict[str, object], cs: Charset, date: str) -> str:
    """Korean article page."""
    title = str(art["title"])
    paragraphs = [str(p) for p in art["paragraphs"]]  # type: ignore[union-attr]
    nav = ["홈", "뉴스", "생활", "여행", "음식", "문화"]
    paras = "\n".join(f"<p>{esc(p)}</p>" for p in paragraphs)
    return (
        head_block("ko", f"{title} - {site.name}", meta_tag(cs, "html5"), paragraphs[0][:80], "기사")
        + f'<body>\n<header><a href="/">{esc(site.name)}</a><nav>{nav_list(nav, "menu", "/c/")}</nav></header>\n'
        f'<main><article><h1>{esc(title)}</h1><p class="date">{date}</p>\n{paras}\n</article></main>\n'
        f"<footer><p>&copy; 2024 {esc(site.name)}</p></footer>\n</body>\n</html>\n"
    )


# ---------------------------------------------------------------------------
# Non-HTML payloads
# ---------------------------------------------------------------------------


def tiny_png() -> bytes:
    """A valid 2x2 RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"\x00\xc8\x32\x32\x32\x96\xc8" + b"\x00\x32\x96\xc8\xc8\xc8\x32"
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def tiny_pdf() -> bytes:
    """A small, structurally valid one-page PDF with an ASCII text line."""
    stream = b"BT /F1 12 Tf 72 720 Td (curate sample report) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


# ---------------------------------------------------------------------------
# Page assembly
# ---------------------------------------------------------------------------

# (domain, charset) for every article of each Simplified Chinese group.
HANS_PLAN: list[list[tuple[str, Charset]]] = [
    [("news.example-zh.cn", UTF8), ("www.chengshi-wanbao.example", GBK), ("news.difang-demo.example", GB2312_META)],
    [("tech.keji-zaixian.example", UTF8), ("blog.shuwu-demo.example", UTF8), ("www.zonghe-zixun.example", GB18030)],
    [("www.wenhua-zhoukan.example", UTF8), ("news.example-zh.cn", UTF8_UPPER), ("www.chengshi-wanbao.example", GBK)],
    [("kexue.tansuo-demo.example", UTF8), ("blog.shuwu-demo.example", UTF8_NONE), ("tech.keji-zaixian.example", UTF8)],
    [("www.lvxing-biji.example", UTF8), ("news.example-zh.cn", UTF8_HTTP), ("www.wenhua-zhoukan.example", UTF8)],
    [("food.meishi-jia.example", UTF8_META), ("www.chengshi-wanbao.example", GBK), ("www.lvxing-biji.example", UTF8)],
    [("health.jiankang-zhinan.example", GB2312), ("news.example-zh.cn", UTF8), ("edu.jiaoyu-guancha.example", UTF8)],
    [("edu.jiaoyu-guancha.example", UTF8), ("blog.shuwu-demo.example", UTF8), ("www.wenhua-zhoukan.example", UTF8)],
    [
        ("www.nongye-zixun.example", GBK_META),
        ("tech.keji-zaixian.example", UTF8),
        ("news.difang-demo.example", GBK_NONE),
    ],
    [("kexue.tansuo-demo.example", UTF8), ("www.nongye-zixun.example", GBK_META), ("www.lvxing-biji.example", UTF8)],
    [("news.example-zh.cn", UTF8), ("health.jiankang-zhinan.example", GB2312), ("blog.shuwu-demo.example", UTF8)],
    [
        ("news.difang-demo.example", GB2312_META),
        ("food.meishi-jia.example", UTF8_META),
        ("www.zonghe-zixun.example", GB18030),
    ],
    [("www.wenhua-zhoukan.example", UTF8), ("kexue.tansuo-demo.example", UTF8), ("blog.shuwu-demo.example", UTF8)],
    [("tech.keji-zaixian.example", UTF8), ("news.example-zh.cn", UTF8), ("news.difang-demo.example", UTF8_META)],
    [("kexue.tansuo-demo.example", UTF8), ("tech.keji-zaixian.example", UTF8), ("news.example-zh.cn", UTF8)],
    [("www.wenhua-zhoukan.example", UTF8), ("www.lvxing-biji.example", UTF8), ("edu.jiaoyu-guancha.example", UTF8)],
    [("health.jiankang-zhinan.example", GB2312), ("food.meishi-jia.example", UTF8_META), ("news.example-zh.cn", UTF8)],
    [
        ("edu.jiaoyu-guancha.example", UTF8),
        ("news.difang-demo.example", GB2312_META),
        ("tech.keji-zaixian.example", UTF8),
    ],
]

# (domain, charset) for every article of each Traditional Chinese group.
HANT_PLAN: list[list[tuple[str, Charset]]] = [
    [("www.beicheng-daily.example", BIG5), ("blog.example-tw.test", UTF8)],
    [("life.shenghuo-tw.example", BIG5_META), ("www.beicheng-daily.example", BIG5)],
    [("www.chaxiang-zazhi.example", BIG5), ("www.chaxiang-zazhi.example", BIG5)],
    [("www.beicheng-daily.example", BIG5), ("life.shenghuo-tw.example", UTF8)],
    [("blog.example-tw.test", UTF8), ("life.shenghuo-tw.example", BIG5_META)],
    [("hk.gangcheng-post.example", UTF8), ("hk.gangcheng-post.example", UTF8)],
    [("hk.gangcheng-post.example", UTF8_META), ("hk.gangcheng-post.example", UTF8)],
    [("blog.example-tw.test", UTF8), ("www.beicheng-daily.example", BIG5)],
    [("www.beicheng-daily.example", BIG5), ("life.shenghuo-tw.example", UTF8)],
    [("www.beicheng-daily.example", BIG5), ("blog.example-tw.test", UTF8)],
]

FORUM_PLAN: list[tuple[str, Charset]] = [
    ("bbs.example-zh.cn", UTF8),
    ("bbs.luntan-demo.example", GBK),
    ("forum.taolun-demo.example", UTF8),
    ("bbs.example-zh.cn", UTF8),
    ("bbs.luntan-demo.example", GB2312),
    ("forum.taolun-demo.example", UTF8),
    ("bbs.example-zh.cn", UTF8),
    ("forum.taolun-demo.example", UTF8_META),
    ("bbs.example-zh.cn", UTF8),
    ("forum.taolun-demo.example", UTF8),
    ("bbs.example-zh.cn", UTF8),
    ("bbs.luntan-demo.example", GBK),
    ("bbs.luntan-demo.example", GBK_META),
    ("forum.example-tw.test", BIG5),
    ("forum.example-tw.test", BIG5),
    ("discuss.example-hk.test", UTF8),
]

BOILERPLATE_PLAN: list[tuple[str, Charset]] = [
    ("portal.menhu-demo.example", UTF8),
    ("portal.menhu-demo.example", UTF8),
    ("www.daohang-demo.example", GB2312),
    ("portal.menhu-demo.example", UTF8),
    ("www.daohang-demo.example", GBK),
    ("portal.menhu-demo.example", UTF8_META),
    ("portal.menhu-demo.example", UTF8),
    ("www.daohang-demo.example", UTF8),
    ("portal.menhu-demo.example", UTF8),
    ("www.daohang-demo.example", UTF8),
    ("member.huiyuan-tw.example", BIG5),
    ("member.huiyuan-tw.example", UTF8),
]

# (spam index, domain, charset)
SPAM_PLAN: list[tuple[int, str, Charset]] = [
    (0, "www.jinding-yule.example", GB2312),
    (1, "www.jinding-yule.example", UTF8),
    (2, "www.jinding-yule.example", UTF8),
    (3, "seo.guanjianci-demo.example", UTF8),
    (4, "seo.guanjianci-demo.example", UTF8_META),
    (5, "seo.guanjianci-demo.example", UTF8),
    (6, "www.tongcheng-jiaoyou.example", UTF8),
    (7, "www.tongcheng-jiaoyou.example", UTF8),
    (8, "ad.daikuan-demo.example", UTF8),
    (9, "ad.daikuan-demo.example", UTF8),
    (10, "ad.daikuan-demo.example", UTF8),
    (11, "ad.daikuan-demo.example", UTF8),
    (12, "www.caipiao-yuce.example", GBK),
    (13, "www.mifang-demo.example", UTF8),
]

# Exact duplicates: (source, mirror domain, charset).
EXACT_DUP_PLAN: list[tuple[tuple[object, ...], str, Charset]] = [
    (("hans", 0, 1), "mirror.zhuanzai-demo.example", UTF8),
    (("hans", 4, 0), "www.caiji-demo.example", GBK),
    (("hans", 7, 2), "m.example-zh.cn", UTF8),
    (("hans", 9, 0), "mirror.zhuanzai-demo.example", UTF8),
    (("hans", 14, 0), "www.caiji-demo.example", GB18030),
    (("hant", 2, 0), "www.tw-zhuanzai.example", BIG5),
    (("hant", 4, 0), "www.tw-zhuanzai.example", UTF8),
    (("en", 0), "agg.example.net", UTF8),
]

# Near duplicates: (mirror domain, charset) for each entry of T.NEAR_DUP_EDITS.
NEAR_DUP_PLAN: list[tuple[str, Charset]] = [
    ("www.wenzhai-demo.example", UTF8),
    ("www.kuaixun-demo.example", GBK),
    ("www.wenzhai-demo.example", UTF8),
    ("www.kuaixun-demo.example", UTF8),
    ("www.wenzhai-demo.example", UTF8),
    ("www.kuaixun-demo.example", GB2312),
    ("www.tw-zhuanzai.example", BIG5),
    ("agg.example.net", UTF8),
]

SHORT_PLAN: list[tuple[str, Charset]] = [
    ("news.example-zh.cn", UTF8),
    ("blog.shuwu-demo.example", UTF8),
    ("www.zonghe-zixun.example", GBK),
    ("news.difang-demo.example", UTF8),
    ("life.shenghuo-tw.example", UTF8),
]
HEADLINE_PLAN: list[tuple[str, Charset]] = [("news.difang-demo.example", UTF8), ("www.chengshi-wanbao.example", UTF8)]

EN_PLAN: list[str] = [
    "news.example.com",
    "blog.example.org",
    "www.example.net",
    "blog.example.org",
    "news.example.com",
    "blog.example.org",
    "www.example.net",
    "blog.example.org",
    "www.example.net",
    "travel.example.com",
]
JA_PLAN: list[tuple[str, Charset]] = [
    ("blog.example.jp", UTF8),
    ("www.example.jp", UTF8),
    ("blog.example.jp", UTF8),
    ("www.example.jp", UTF8_META),
    ("blog.example.jp", UTF8),
    ("news.example-ja.test", SJIS),
    ("blog.example.jp", UTF8),
    ("www.example.jp", UTF8),
    ("news.example-ja.test", UTF8),
]
KO_PLAN: list[tuple[str, Charset]] = [("www.example.kr", UTF8), ("www.example.kr", EUCKR)]

# Planted attacks: (attack, domain, charset, Simplified group, paragraph order).
# Each page is an ordinary article of five paragraphs of one group (an order no
# other article uses), so only a screen has a reason to drop it.
PLANTED_PLAN: list[tuple[str, str, Charset, int, list[int]]] = [
    ("blocked_token", "www.aomenduchang888.example", UTF8, 11, [1, 4, 6, 8, 3]),
    ("blocked_domain", "news.casino-example.test", UTF8, 10, [2, 5, 0, 7, 9]),
    ("hidden_text", "www.zonghe-zixun.example", GB18030, 9, [0, 3, 5, 8, 6]),
    ("prompt_injection", "www.chengshi-wanbao.example", GBK, 7, [5, 1, 8, 3, 9]),
    ("mixed_script", "tech.keji-zaixian.example", UTF8, 1, [6, 3, 8, 0, 7]),
    ("gibberish_span", "kexue.tansuo-demo.example", UTF8, 3, [9, 2, 6, 4, 1]),
]
# The WET text record: (domain, Simplified group, paragraph order).
PLANTED_WET_PLAN: tuple[str, int, list[int]] = ("blog.shuwu-demo.example", 14, [4, 0, 9, 2, 6])
# The group whose paragraphs the hidden_text page hides (cloaked prose on another topic).
PLANTED_HIDDEN_SOURCE: tuple[int, list[int]] = (13, [0, 2])
PLANTED_PII_PLAN: tuple[str, Charset] = ("news.difang-demo.example", UTF8)


def zero_width_padded(text: str, count: int) -> str:
    """``text`` with a zero-width space after each of its first ``count`` characters."""
    return "".join(c + "\u200b" for c in text[:count]) + text[count:]


def tag_encoded(message: str) -> str:
    """ASCII ``message`` as Unicode tag characters (U+E0000 + code), invisible when rendered."""
    return "".join(chr(0xE0000 + ord(c)) for c in message)


def random_rare_han(count: int, *key: object) -> str:
    """``count`` deterministic pseudo-random characters of the CJK Unified Ideographs block
    (U+4E00-U+9FA5): most of its 20,902 characters are rare in running text."""
    return "".join(chr(0x4E00 + stable_int("rare-han", *key, k) % (0x9FA6 - 0x4E00)) for k in range(count))


class SampleBuilder:
    """Builds the list of pages in a deterministic order."""

    def __init__(self) -> None:
        self.pages: list[Page] = []
        self.counters: Counter[str] = Counter()
        self.article_index = 0
        # Keyed by ("hans", g, a) / ("hant", g, a) / ("en", i): (title, paragraphs, inner, script)
        self.sources: dict[tuple[object, ...], dict[str, object]] = {}
        self.hans_titles = [str(a["title"]) for g in T.ZH_HANS_GROUPS for a in g["articles"]]  # type: ignore[union-attr]
        self.hant_titles = [str(a["title"]) for g in T.ZH_HANT_GROUPS for a in g["articles"]]  # type: ignore[union-attr]

    # -- URLs ---------------------------------------------------------------

    def next_number(self, domain: str, base: int, step: int) -> int:
        """Per-site increasing document numbers."""
        n = self.counters[domain]
        self.counters[domain] += 1
        return base + n * step + stable_int("num", domain, n) % step

    def article_url(self, site: Site, section: str) -> str:
        """A URL in the site's style for a new article."""
        d = site.domain
        if site.layout == "legacy":
            n = self.next_number(d, 31000, 37)
            day = n % 28 + 1
            return f"{site.scheme}://{d}/{section}/2024-04/{day:02d}/content_{n}.htm"
        if site.layout in ("blog", "blog_tw"):
            n = self.next_number(d, 400, 13)
            return f"{site.scheme}://{d}/archives/{n}.html"
        if site.layout == "portal_tw":
            n = self.next_number(d, 7000, 29)
            return f"{site.scheme}://{d}/news/{section}/20240{4 + n % 2}{n % 28 + 1:02d}{n % 10000:04d}"
        if site.layout == "mirror":
            n = self.next_number(d, 880, 17)
            return f"{site.scheme}://{d}/html/2024/0{4 + n % 2}/{n}.html"
        n = self.next_number(d, 10, 3)
        return f"{site.scheme}://{d}/2024/0{4 + n % 2}/article-{n}.html"

    # -- helpers ------------------------------------------------------------

    def add(self, page: Page) -> None:
        """Register a page, checking that it encodes with its charset."""
        page.payload()
        self.pages.append(page)

    def next_date(self) -> str:
        """Publication date shown in article bylines."""
        i = self.article_index
        self.article_index += 1
        moment = datetime.datetime(2024, 3, 20, 7, 30) + datetime.timedelta(hours=i * 17 + i % 5)
        return moment.strftime("%Y-%m-%d %H:%M")

    def hot_titles(self, script: str, key: object, exclude: str, cs: Charset) -> list[str]:
        """Sidebar titles of other articles in the same script that the page's codec can encode."""
        pool = [t for t in (self.hant_titles if script == "hant" else self.hans_titles) if encodable(t, cs.codec)]
        return [t for t in rotate(pool, 7, "hot", key) if t != exclude][:5]

    # -- Chinese articles ---------------------------------------------------

    def build_group_articles(self, script: str) -> None:
        """All article pages of the Simplified or Traditional groups."""
        groups = T.ZH_HANS_GROUPS if script == "hans" else T.ZH_HANT_GROUPS
        plan = HANS_PLAN if script == "hans" else HANT_PLAN
        authors = T.HANT_AUTHORS if script == "hant" else T.HANS_AUTHORS
        for gi, group in enumerate(groups):
            paragraphs = [str(p) for p in group["paragraphs"]]  # type: ignore[union-attr]
            for ai, art in enumerate(group["articles"]):  # type: ignore[union-attr]
                domain, cs = plan[gi][ai]
                site = SITES[domain]
                title = str(art["title"])
                order = [int(k) for k in art["order"]]
                paras = [paragraphs[k] for k in order]
                author = pick(authors, script, gi, ai)
                if cs is GB2312 and script == "hans" and gi == 6 and ai == 0:
                    author = T.GBK_ONLY_AUTHOR
                editor = pick(authors, "editor", script, gi, ai)
                date = self.next_date()
                spec = ArticleSpec(
                    script,
                    str(group["section"]),
                    title,
                    paras,
                    date,
                    author,
                    editor,
                    self.hot_titles(script, (gi, ai), title, cs),
                )
                spec.inner = article_inner(
                    script,
                    title,
                    byline_html(script, date, site.name, author),
                    paras,
                    indent=site.layout == "legacy",
                    editor=editor,
                )
                region = str(group.get("region", "cn"))
                lang = "zh-Hans" if script == "hans" else f"zh-Hant-{region.upper()}"
                category = "zh_hans_article" if script == "hans" else "zh_hant_article"
                page = Page(
                    category, lang, self.article_url(site, str(group["section"])), cs, render_article(site, spec, cs)
                )
                self.add(page)
                self.sources[(script, gi, ai)] = {
                    "title": title,
                    "paragraphs": paras,
                    "inner": spec.inner,
                    "script": script,
                    "section": str(group["section"]),
                    "date": date,
                    "author": author,
                    "editor": editor,
                    "source": site.name,
                    "uri": page.uri,
                    "layout": site.layout,
                    "spec": spec,
                }

    # -- other categories ---------------------------------------------------

    def build_forums(self) -> None:
        """BBS thread pages."""
        for i, thread in enumerate(T.FORUM_THREADS):
            domain, cs = FORUM_PLAN[i]
            site = SITES[domain]
            tid = 20000 + i * 311 + stable_int("tid", i) % 97
            if site.layout == "forum_discuz":
                uri = f"{site.scheme}://{domain}/thread-{tid}-1-1.html"
                body = layout_forum_discuz(site, thread, i, cs)
            else:
                uri = f"{site.scheme}://{domain}/t/{tid}"
                body = layout_forum_simple(site, thread, i, cs)
            lang = "zh-Hans" if thread["script"] == "hans" else "zh-Hant"
            self.add(Page("forum", lang, uri, cs, body))

    def build_boilerplate(self) -> None:
        """Navigation-heavy pages."""
        paths = {
            "portal": "/",
            "login": "/member/login.php",
            "notfound": "/404.html",
            "search": "/search?q=%E6%98%A5",
            "list": "/news/shehui/index.html",
            "sitemap": "/sitemap.html",
            "contact": "/about/contact.html",
            "app": "/app/download.html",
            "cookie": "/privacy/cookies.html",
            "tag": "/tag/lvyou/",
        }
        for i, spec in enumerate(T.BOILERPLATE_PAGES):
            domain, cs = BOILERPLATE_PLAN[i]
            site = SITES[domain]
            script = str(spec["script"])
            titles = self.hant_titles if script == "hant" else self.hans_titles
            path = paths[str(spec["kind"])]
            if script == "hant":
                path = "/member/center" if spec["kind"] == "login" else "/channels"
            uri = f"{site.scheme}://{domain}{path}"
            lang = "zh-Hans" if script == "hans" else "zh-Hant"
            self.add(Page("boilerplate", lang, uri, cs, layout_boilerplate(site, spec, cs, titles)))

    def build_short(self) -> None:
        """Very short pages and pure-Han headline-only pages."""
        for i, (script, title, text) in enumerate(T.SHORT_ZH_PAGES):
            domain, cs = SHORT_PLAN[i]
            site = SITES[domain]
            uri = f"{site.scheme}://{domain}/notice/{stable_int('short', i) % 900 + 100}.html"
            lang = "zh-Hans" if script == "hans" else "zh-Hant"
            self.add(Page("zh_short", lang, uri, cs, layout_short(site, script, title, text, cs)))
        for i, headline in enumerate(T.PURE_HAN_HEADLINES):
            domain, cs = HEADLINE_PLAN[i]
            site = SITES[domain]
            uri = f"{site.scheme}://{domain}/flash/2024050{i + 1}/{stable_int('hl', i) % 9000 + 1000}.html"
            self.add(Page("zh_headline_only", "zh-Hans", uri, cs, layout_headline(site, headline, cs)))

    def build_spam(self) -> None:
        """Chinese and English spam pages."""
        for idx, domain, cs in SPAM_PLAN:
            site = SITES[domain]
            note, body = build_zh_spam(idx, site, cs)
            uri = f"{site.scheme}://{domain}/{'index' if idx % 3 == 0 else 'p'}{'' if idx % 3 == 0 else idx}.html"
            self.add(Page("zh_spam", "zh-Hans", uri, cs, body, note=note))
        for domain, kws, title in [
            (
                "www.cheap-watches.example",
                T.EN_SPAM_WATCH_KEYWORDS,
                "Cheap Watches Replica Watches Best Watches Online Sale",
            ),
            ("www.casino-bonus.example", T.EN_SPAM_CASINO_KEYWORDS, "Online Casino Bonus Free Spins No Deposit 2024"),
        ]:
            site = SITES[domain]
            self.add(Page("en_spam", "en", f"{site.scheme}://{domain}/", UTF8, layout_en_spam(site, kws, title)))

    def build_foreign(self) -> None:
        """English, Japanese and Korean articles."""
        authors = ["Jordan Lee", "Sam Carter", "Alex Morgan", "Riley Chen", "Taylor Brooks"]
        titles = [str(a["title"]) for a in T.EN_ARTICLES]
        for i, art in enumerate(T.EN_ARTICLES):
            site = SITES[EN_PLAN[i]]
            paras = [str(p) for p in art["paragraphs"]]  # type: ignore[union-attr]
            slug = "-".join(titles[i].lower().replace(":", "").replace(",", "").split()[:6])
            date = f"2024-04-{(i * 3) % 27 + 1:02d}"
            related = [t for t in rotate(titles, 5, "rel", i) if t != titles[i]][:4]
            body = layout_en(site, titles[i], paras, date, pick(authors, "en", i), related)
            uri = f"{site.scheme}://{site.domain}/2024/04/{slug}/"
            self.add(Page("en_article", "en", uri, UTF8, body))
            self.sources[("en", i)] = {
                "title": titles[i],
                "paragraphs": paras,
                "date": date,
                "author": pick(authors, "en", i),
                "related": related,
                "uri": uri,
            }
        for i, art in enumerate(T.JA_ARTICLES):
            domain, cs = JA_PLAN[i]
            site = SITES[domain]
            date = f"2024年4月{i * 2 + 3}日"
            uri = f"{site.scheme}://{domain}/articles/{stable_int('ja', i) % 90000 + 10000}.html"
            if art["kanji_heavy"] and i == 7:
                uri = f"{site.scheme}://{domain}/terms/service.html"
            category = "ja_article_kanji_heavy" if art["kanji_heavy"] else "ja_article"
            self.add(Page(category, "ja", uri, cs, layout_ja(site, art, cs, date)))
        for i, art in enumerate(T.KO_ARTICLES):
            domain, cs = KO_PLAN[i]
            site = SITES[domain]
            uri = f"{site.scheme}://{domain}/news/view/{stable_int('ko', i) % 90000 + 10000}"
            self.add(Page("ko_article", "ko", uri, cs, layout_ko(site, art, cs, f"2024.04.{i * 9 + 11}")))

    def build_duplicates(self) -> None:
        """Exact mirrors and near-duplicate reposts of earlier articles."""
        for key, domain, cs in EXACT_DUP_PLAN:
            src = self.sources[key]
            site = SITES[domain]
            if key[0] == "en":
                body = layout_en(
                    site,
                    str(src["title"]),
                    list(src["paragraphs"]),
                    str(src["date"]),  # type: ignore[arg-type]
                    str(src["author"]),
                    list(src["related"]),
                )  # type: ignore[arg-type]
                self.add(
                    Page(
                        "exact_duplicate",
                        "en",
                        f"{site.scheme}://{domain}/read/{stable_int(domain, key) % 90000}",
                        cs,
                        body,
                        note=f"copy of {src['uri']}",
                    )
                )
                continue
            script = str(src["script"])
            hot = self.hot_titles(script, ("mirror", key), str(src["title"]), cs)
            if src["layout"] in ("blog", "blog_tw"):
                # A cloned blog (same CMS theme, different site): keep the theme so the
                # extracted text matches the original exactly.
                spec: ArticleSpec = src["spec"]  # type: ignore[assignment]
                clone = ArticleSpec(
                    spec.script,
                    spec.section,
                    spec.title,
                    spec.paragraphs,
                    spec.date,
                    spec.author,
                    spec.editor,
                    hot,
                    spec.inner,
                )
                body = layout_blog(site, clone, cs)
            else:
                body = layout_mirror(site, str(src["inner"]), script, str(src["title"]), cs, hot, variant=1)
            lang = "zh-Hans" if script == "hans" else "zh-Hant"
            self.add(
                Page("exact_duplicate", lang, self.article_url(site, "news"), cs, body, note=f"copy of {src['uri']}")
            )

        for edit, (domain, cs) in zip(T.NEAR_DUP_EDITS, NEAR_DUP_PLAN):
            key = tuple(edit["source"])  # type: ignore[arg-type]
            src = self.sources[key]
            paras = apply_edits(list(src["paragraphs"]), list(edit["ops"]))  # type: ignore[arg-type]
            site = SITES[domain]
            if key[0] == "en":
                body = layout_en(
                    site, str(src["title"]), paras, str(src["date"]), str(src["author"]), list(src["related"])
                )  # type: ignore[arg-type]
                self.add(
                    Page(
                        "near_duplicate",
                        "en",
                        f"{site.scheme}://{domain}/read/{stable_int(domain, key) % 90000}",
                        cs,
                        body,
                        note=f"edited copy of {src['uri']}",
                    )
                )
                continue
            script = str(src["script"])
            lab = LABELS[script]
            byline = byline_html(script, str(src["date"]), "网络" if script == "hans" else "網路", str(src["author"]))
            inner = article_inner(script, str(src["title"]), byline, paras, indent=False, editor=str(src["editor"]))
            hot = self.hot_titles(script, ("near", key), str(src["title"]), cs)
            body = layout_mirror(site, inner, script, str(src["title"]), cs, hot, variant=0)
            body = body.replace("</footer>", f'<p class="extra">{lab["contact"]}：editor@{esc(domain)}</p>\n</footer>')
            lang = "zh-Hans" if script == "hans" else "zh-Hant"
            self.add(
                Page(
                    "near_duplicate",
                    lang,
                    self.article_url(site, "news"),
                    cs,
                    body,
                    note=f"edited copy of {src['uri']}",
                )
            )

    def build_edge_cases(self) -> None:
        """Pages that extraction or the CJK-ratio rule must drop.

        Script-only shells of client-rendered apps carry no text in the HTML, and
        product spec sheets are mostly model numbers, sizes and prices with a few
        Chinese labels.
        """
        for n, (domain, title) in enumerate(
            [
                ("news.example-zh.cn", "城市新闻网客户端"),
                ("tech.keji-zaixian.example", "科技在线 - 专题"),
            ]
        ):
            html_text = (
                f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{esc(title)}</title>'
                f'<link rel="stylesheet" href="/static/css/app.{n}f3a9.css"></head><body><div id="app"></div>'
                f'<script src="/static/js/chunk-vendors.{n}c81e.js"></script>'
                f'<script src="/static/js/app.{n}b7d2.js"></script>'
                '<script>window.__INITIAL_STATE__={"route":"/topic","items":[]};</script></body></html>'
            )
            self.add(Page("zh_spa_shell", "zh-Hans", f"https://{domain}/app/topic/{2024050 + n}", UTF8, html_text))
        for n, (domain, product) in enumerate(
            [
                ("tech.keji-zaixian.example", "电热水壶"),
                ("www.zonghe-zixun.example", "吸尘器"),
            ]
        ):
            rows = []
            for k in range(24):
                model = f"XK-{2031 + 17 * k + n}{'AB'[k % 2]}"
                rows.append(
                    f"<tr><td>{model}</td><td>220V/50Hz {1200 + 50 * k}W</td>"
                    f"<td>{300 + k}x{200 + 2 * k}x{180 + k}mm</td>"
                    f"<td>{1.8 + k / 10:.1f}kg</td><td>RMB {899 + 40 * k}.00</td><td>SKU{880120 + 7 * k + n}</td>"
                    f"<td>{'白色现货' if k % 2 else '黑色预订'}</td></tr>"
                )
            html_text = (
                '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
                f"<title>{product}型号参数表</title></head>"
                f"<body><article><h1>{product}型号参数表</h1><p>型号 / 电压 / 尺寸 / 重量 / 价格 / 编号</p>"
                f"<table>{''.join(rows)}</table></article></body></html>"
            )
            self.add(Page("zh_spec_sheet", "zh-Hans", f"https://{domain}/products/spec-{n + 1}.html", UTF8, html_text))

    def build_planted(self) -> None:
        """Ordinary articles with one planted attack each, and one with personal contact data.

        Each attack page must pass every quality rule, so that the screen named by
        its category is what drops it (into ``OUT/quarantine/``).
        """
        authors = T.HANS_AUTHORS
        for attack, domain, cs, gi, order in PLANTED_PLAN:
            group = T.ZH_HANS_GROUPS[gi]
            site = SITES[domain]
            section = str(group["section"])
            paragraphs = [str(p) for p in group["paragraphs"]]  # type: ignore[union-attr]
            paras = [paragraphs[k] for k in order]
            title = str(group["articles"][len(attack) % 3]["title"])  # type: ignore[index]
            extra = ""
            if attack == "prompt_injection":
                first, *rest = split_sentences(paras[2])
                paras[2] = first + T.PLANTED_INJECTION_SENTENCE + "".join(rest)
            elif attack == "mixed_script":
                first, *rest = split_sentences(paras[1])
                paras[1] = first + T.PLANTED_HOMOGLYPH_SENTENCE + "".join(rest)
            elif attack == "gibberish_span":
                paras.append(T.PLANTED_GIBBERISH_TRIGGER + " " + random_rare_han(300, domain, gi))
            elif attack == "hidden_text":
                hg, hidden_order = PLANTED_HIDDEN_SOURCE
                hidden = [str(T.ZH_HANS_GROUPS[hg]["paragraphs"][k]) for k in hidden_order]  # type: ignore[index]
                extra = '\n<div style="display:none">' + "".join(f"<p>{esc(p)}</p>" for p in hidden) + "</div>"
            author = pick(authors, "planted", attack)
            editor = pick(authors, "planted-editor", attack)
            date = self.next_date()
            spec = ArticleSpec(
                "hans",
                section,
                title,
                paras,
                date,
                author,
                editor,
                self.hot_titles("hans", ("planted", attack), title, cs),
            )
            spec.inner = article_inner(
                "hans",
                title,
                byline_html("hans", date, site.name, author),
                paras,
                indent=site.layout == "legacy",
                editor=editor,
            )
            spec.inner = spec.inner.replace("\n</div>", extra + "\n</div>") if extra else spec.inner
            self.add(
                Page(
                    f"planted_{attack}",
                    "zh-Hans",
                    self.article_url(site, section),
                    cs,
                    render_article(site, spec, cs),
                    note=f"screen.{attack}",
                )
            )

        domain, cs = PLANTED_PII_PLAN
        site = SITES[domain]
        art = T.PLANTED_PII_ARTICLE
        title = str(art["title"])
        paras = [str(p) for p in art["paragraphs"]]  # type: ignore[union-attr]
        author, editor, date = (
            pick(authors, "planted", "pii"),
            pick(authors, "planted-editor", "pii"),
            self.next_date(),
        )
        spec = ArticleSpec(
            "hans",
            "society",
            title,
            paras,
            date,
            author,
            editor,
            self.hot_titles("hans", ("planted", "pii"), title, cs),
        )
        spec.inner = article_inner(
            "hans",
            title,
            byline_html("hans", date, site.name, author),
            paras,
            indent=site.layout == "legacy",
            editor=editor,
        )
        self.add(
            Page(
                "planted_pii",
                "zh-Hans",
                self.article_url(site, "society"),
                cs,
                render_article(site, spec, cs),
                note="screen.pii_email, screen.pii_mobile (kept, redacted)",
            )
        )

        # WET text (a conversion record, as in Common Crawl's .wet files): extraction is
        # skipped, so the invisible characters reach screen_invisible.
        domain, gi, order = PLANTED_WET_PLAN
        site = SITES[domain]
        group = T.ZH_HANS_GROUPS[gi]
        paragraphs = [str(p) for p in group["paragraphs"]]  # type: ignore[union-attr]
        paras = [paragraphs[k] for k in order]
        first, *rest = split_sentences(paras[2])
        paras[2] = first + tag_encoded(T.PLANTED_TAG_MESSAGE) + "".join(rest)
        paras[1] = zero_width_padded(paras[1], 24)
        title = str(group["articles"][0]["title"])  # type: ignore[index]
        text = "\n".join([f"{title} | {site.name}", title, *paras])
        self.add(
            Page(
                "planted_wet_invisible",
                "zh-Hans",
                self.article_url(site, str(group["section"])),
                None,
                content_type="text/plain",
                body=text.encode("utf-8"),
                record="conversion",
                note="screen.tag_characters, screen.zero_width",
            )
        )

    def build_non_html(self) -> None:
        """PNG, PDF and JSON responses that an HTML pipeline should skip."""
        self.add(
            Page(
                "non_html",
                "-",
                "https://static.example-zh.cn/images/logo.png",
                None,
                content_type="image/png",
                body=tiny_png(),
            )
        )
        self.add(
            Page(
                "non_html",
                "-",
                "https://files.example-zh.cn/docs/annual-report-2023.pdf",
                None,
                content_type="application/pdf",
                body=tiny_pdf(),
            )
        )
        payload = (
            '{"code":0,"data":[{"id":101,"title":"'
            + self.hans_titles[0]
            + '"},{"id":102,"title":"'
            + self.hans_titles[3]
            + '"}],"msg":"ok"}'
        )
        self.add(
            Page(
                "non_html",
                "-",
                "https://api.example-zh.cn/v1/news/list?page=1",
                None,
                content_type="application/json",
                body=payload.encode("utf-8"),
            )
        )

    def build(self) -> list[Page]:
        """Build every page; the final order mixes hosts like a crawl segment does."""
        self.build_group_articles("hans")
        self.build_group_articles("hant")
        self.build_forums()
        self.build_boilerplate()
        self.build_short()
        self.build_spam()
        self.build_foreign()
        self.build_duplicates()
        self.build_edge_cases()
        self.build_planted()
        self.build_non_html()
        uris = [p.uri for p in self.pages]
        if len(set(uris)) != len(uris):
            raise ValueError("duplicate URI in sample plan")
        return sorted(self.pages, key=lambda p: hashlib.sha1(p.uri.encode("utf-8")).hexdigest())


def apply_edits(paragraphs: list[str], ops: list[tuple[object, ...]]) -> list[str]:
    """Apply near-duplicate edit operations to a list of paragraphs."""
    out = list(paragraphs)
    for op in ops:
        kind = op[0]
        if kind == "append":
            pos = int(op[1])  # type: ignore[arg-type]
            out[pos] = out[pos] + str(op[2])
        elif kind == "replace":
            old, new = str(op[1]), str(op[2])
            if not any(old in p for p in out):
                raise ValueError(f"replace target not found: {old}")
            out = [p.replace(old, new) for p in out]
        elif kind == "drop_last_sentence":
            pos = int(op[1])  # type: ignore[arg-type]
            sentences = split_sentences(out[pos])
            if len(sentences) < 2:
                raise ValueError("paragraph too short to drop a sentence")
            out[pos] = "".join(sentences[:-1]).rstrip()
        else:
            raise ValueError(f"unknown edit {kind}")
    return out


# ---------------------------------------------------------------------------
# WARC writing
# ---------------------------------------------------------------------------


def request_block(uri: str) -> bytes:
    """The HTTP request as sent by the (fictional) crawler."""
    scheme, rest = uri.split("://", 1)
    host, _, path = rest.partition("/")
    lines = [
        f"GET /{path} HTTP/1.1",
        f"Host: {host}",
        f"User-Agent: {USER_AGENT}",
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language: zh-CN,zh-TW;q=0.9,zh;q=0.8,en;q=0.5",
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def response_head(page: Page, moment: datetime.datetime, body_len: int) -> bytes:
    """HTTP/1.1 status line and headers for a page."""
    host = page.uri.split("://", 1)[1].split("/", 1)[0]
    site = SITES[host]
    lines = [
        "HTTP/1.1 200 OK",
        f"Date: {http_date(moment)}",
        f"Server: {site.server}",
        f"Content-Type: {page.http_content_type()}",
        f"Content-Length: {body_len}",
    ]
    if page.charset is None:
        lines.append(f"Last-Modified: {http_date(moment - datetime.timedelta(days=30))}")
        lines.append("Cache-Control: max-age=86400")
    else:
        lines.append("Cache-Control: no-cache")
        if stable_int("vary", host) % 2:
            lines.append("Vary: Accept-Encoding")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def build_warc(pages: list[Page], filename: str) -> tuple[bytes, Counter[str]]:
    """Serialise all pages to a multi-member gzip WARC; returns bytes and record-type counts."""
    out: list[bytes] = []
    counts: Counter[str] = Counter()
    info_id = record_id("warcinfo", filename)
    info = (
        b"isPartOf: curate-zh-web-sample\r\n"
        b"publisher: curate project\r\n"
        b"description: Synthetic sample crawl for the curate pipeline. All page text is original to the "
        b"curate project; all hosts are fictional.\r\n"
        b"operator: curate project\r\n"
        b"software: build_sample_warc.py (Python standard library)\r\n"
        b"format: WARC File Format 1.1\r\n"
        b"conformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n"
    )
    out.append(
        gzip_member(
            serialize_record(
                [
                    ("WARC-Type", "warcinfo"),
                    ("WARC-Date", warc_date(BASE_TIME)),
                    ("WARC-Filename", filename),
                    ("WARC-Record-ID", info_id),
                    ("Content-Type", "application/warc-fields"),
                ],
                info,
            )
        )
    )
    counts["warcinfo"] += 1

    revisit_source: tuple[Page, str, datetime.datetime, str] | None = None
    for i, page in enumerate(pages):
        moment = BASE_TIME + datetime.timedelta(minutes=i + 1)
        if page.record == "conversion":
            text = page.payload()
            out.append(
                gzip_member(
                    serialize_record(
                        [
                            ("WARC-Type", "conversion"),
                            ("WARC-Target-URI", page.uri),
                            ("WARC-Date", warc_date(moment)),
                            ("WARC-Record-ID", record_id("conversion", page.uri, i)),
                            ("WARC-Refers-To", record_id("response", page.uri, "wet")),
                            ("WARC-Block-Digest", sha1_b32(text)),
                            ("WARC-Identified-Content-Language", "zho"),
                            ("Content-Type", "text/plain"),
                        ],
                        text,
                    )
                )
            )
            counts["conversion"] += 1
            continue
        host = page.uri.split("://", 1)[1].split("/", 1)[0]
        ip = fake_ip(host)
        req_id = record_id("request", page.uri, i)
        resp_id = record_id("response", page.uri, i)
        meta_id = record_id("metadata", page.uri, i)
        req = request_block(page.uri)
        out.append(
            gzip_member(
                serialize_record(
                    [
                        ("WARC-Type", "request"),
                        ("WARC-Date", warc_date(moment)),
                        ("WARC-Record-ID", req_id),
                        ("Content-Type", "application/http; msgtype=request"),
                        ("WARC-Warcinfo-ID", info_id),
                        ("WARC-IP-Address", ip),
                        ("WARC-Target-URI", page.uri),
                    ],
                    req,
                )
            )
        )
        counts["request"] += 1

        body = page.payload()
        block = response_head(page, moment, len(body)) + body
        out.append(
            gzip_member(
                serialize_record(
                    [
                        ("WARC-Type", "response"),
                        ("WARC-Date", warc_date(moment)),
                        ("WARC-Record-ID", resp_id),
                        ("Content-Type", "application/http; msgtype=response"),
                        ("WARC-Warcinfo-ID", info_id),
                        ("WARC-Concurrent-To", req_id),
                        ("WARC-IP-Address", ip),
                        ("WARC-Target-URI", page.uri),
                        ("WARC-Payload-Digest", sha1_b32(body)),
                        ("WARC-Block-Digest", sha1_b32(block)),
                        ("WARC-Identified-Payload-Type", page.content_type),
                    ],
                    block,
                )
            )
        )
        counts["response"] += 1

        fetch_ms = stable_int("fetch", page.uri) % 1900 + 60
        meta_block = f"fetchTimeMs: {fetch_ms}\r\n".encode("ascii")
        out.append(
            gzip_member(
                serialize_record(
                    [
                        ("WARC-Type", "metadata"),
                        ("WARC-Date", warc_date(moment)),
                        ("WARC-Record-ID", meta_id),
                        ("Content-Type", "application/warc-fields"),
                        ("WARC-Warcinfo-ID", info_id),
                        ("WARC-Concurrent-To", resp_id),
                        ("WARC-Target-URI", page.uri),
                    ],
                    meta_block,
                )
            )
        )
        counts["metadata"] += 1

        if revisit_source is None and page.category == "zh_hans_article" and page.charset is UTF8:
            revisit_source = (page, resp_id, moment, sha1_b32(body))

    if revisit_source is None:
        raise ValueError("no page suitable for the revisit record")
    page, orig_id, orig_moment, payload_digest = revisit_source
    moment = BASE_TIME + datetime.timedelta(days=1, minutes=len(pages) + 1)
    host = page.uri.split("://", 1)[1].split("/", 1)[0]
    req_id = record_id("request", page.uri, "revisit")
    out.append(
        gzip_member(
            serialize_record(
                [
                    ("WARC-Type", "request"),
                    ("WARC-Date", warc_date(moment)),
                    ("WARC-Record-ID", req_id),
                    ("Content-Type", "application/http; msgtype=request"),
                    ("WARC-Warcinfo-ID", info_id),
                    ("WARC-IP-Address", fake_ip(host)),
                    ("WARC-Target-URI", page.uri),
                ],
                request_block(page.uri),
            )
        )
    )
    counts["request"] += 1
    rev_block = response_head(page, moment, len(page.payload()))
    rev_id = record_id("revisit", page.uri)
    out.append(
        gzip_member(
            serialize_record(
                [
                    ("WARC-Type", "revisit"),
                    ("WARC-Date", warc_date(moment)),
                    ("WARC-Record-ID", rev_id),
                    ("Content-Type", "application/http; msgtype=response"),
                    ("WARC-Warcinfo-ID", info_id),
                    ("WARC-Concurrent-To", req_id),
                    ("WARC-IP-Address", fake_ip(host)),
                    ("WARC-Target-URI", page.uri),
                    ("WARC-Profile", "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"),
                    ("WARC-Refers-To", orig_id),
                    ("WARC-Refers-To-Target-URI", page.uri),
                    ("WARC-Refers-To-Date", warc_date(orig_moment)),
                    ("WARC-Payload-Digest", payload_digest),
                    ("WARC-Block-Digest", sha1_b32(rev_block)),
                    ("WARC-Identified-Payload-Type", "text/html"),
                ],
                rev_block,
            )
        )
    )
    counts["revisit"] += 1
    out.append(
        gzip_member(
            serialize_record(
                [
                    ("WARC-Type", "metadata"),
                    ("WARC-Date", warc_date(moment)),
                    ("WARC-Record-ID", record_id("metadata", page.uri, "revisit")),
                    ("Content-Type", "application/warc-fields"),
                    ("WARC-Warcinfo-ID", info_id),
                    ("WARC-Concurrent-To", rev_id),
                    ("WARC-Target-URI", page.uri),
                ],
                b"fetchTimeMs: 41\r\n",
            )
        )
    )
    counts["metadata"] += 1
    return b"".join(out), counts


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def summarize(pages: list[Page], counts: Counter[str], path: Path, data: bytes) -> str:
    """Human-readable summary of what was written."""
    lines = [f"wrote {path} ({len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()})", "", "records:"]
    lines += [f"  {k:<10} {v:>4}" for k, v in sorted(counts.items())]
    lines += ["", "responses per category:"]
    cat = Counter(p.category for p in pages)
    lines += [f"  {k:<24} {v:>4}" for k, v in sorted(cat.items())]
    html_pages = [p for p in pages if p.charset is not None]
    lines += ["", f"text/html responses: {len(html_pages)}", "", "html body encoding (codec used / declared labels):"]
    enc = Counter(
        (p.charset.codec, p.charset.http or "-", p.charset.meta or "-")  # type: ignore[union-attr]
        for p in html_pages
    )
    lines += [f"  {c:<10} http={h:<9} meta={m:<9} {v:>4}" for (c, h, m), v in sorted(enc.items())]
    lines += ["", "charset declared in:"]
    decl = Counter(declaration(p.charset) for p in html_pages)  # type: ignore[arg-type]
    lines += [f"  {k:<10} {v:>4}" for k, v in sorted(decl.items())]
    lines += ["", "html body codec:"]
    codec = Counter(p.charset.codec for p in html_pages)  # type: ignore[union-attr]
    lines += [f"  {k:<10} {v:>4}" for k, v in sorted(codec.items())]
    hosts = {p.uri.split("://", 1)[1].split("/", 1)[0] for p in pages}
    lines += ["", f"distinct hosts: {len(hosts)}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).resolve().parent / "zh_web_sample.warc.gz",
        help="where to write the WARC (default: zh_web_sample.warc.gz next to this script)",
    )
    args = parser.parse_args(argv)
    pages = SampleBuilder().build()
    data, counts = build_warc(pages, args.output.name)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    print(summarize(pages, counts, args.output, data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
