"""Text hidden from readers in the raw HTML, judged by what it does to the corpus.

Looks at the page's raw HTML (the transient ``html`` column) after extraction,
so that it can compare with the extracted ``text``. Hidden means inside an
element with the ``hidden`` attribute, ``aria-hidden="true"``, ``<noscript>``,
or an inline style with ``display:none``, ``visibility:hidden``, a zero font
size, zero opacity, far off-screen positioning (left, top, text-indent or
margin beyond -999px), or the same text and background colour. A zero font
size, ``visibility:hidden`` or a colour is undone by a descendant that sets its
own (the ``font-size:0`` trick of inline-block and e-mail layouts): that text
is visible.

Hidden elements alone are no evidence: portal pages hide tab panels, headline
carousels, menus, pop-ups and collapsed replies, and trafilatura leaves most of
them out. The old rule (hidden prose over 1 % of the visible text) flagged 10
of the 143 real zh_sites pages, 8 of their 41 portal pages. The rules flag
hidden text that reaches the corpus, and the kinds of hidden text attackers
plant:

- ``screen.hidden_text``: hidden prose (text pieces of ``min_piece_chars`` or
  more outside links, mostly letters, not also shown elsewhere on the page)
  found in the extracted text, ``min_text_chars`` or more of it but no more
  than ``max_hidden_text_share`` of that text (beyond it the text is the
  page's own content shown by scripts); or ``min_hidden_chars`` of it in one
  hidden element without controls, which trafilatura may leave out but is a
  cloaked article (dialogs, tabs and consent banners carry buttons, inputs or
  ``javascript:`` links; ``<noscript>`` is shown to readers without scripts).
  Link text is navigation: hidden link lists are menus, tabs and carousels.
- ``screen.hidden_instructions``: hidden text addressed to a model: the
  phrases of ``screen_injection`` in any hidden text; in hidden prose also
  the phrases of ``MODEL_DIRECTED_PATTERNS`` and sentences with words of the
  right kinds together (a model named and a directive, "ignore" and
  "instructions", an answer shaped for "the user"). Hidden text has no human
  reader, so text that talks to a model there has no innocent reading.
- ``screen.hidden_stuffing``: a hidden text piece that repeats itself, a term
  list repeated (keyword stuffing): it compresses ``min_stuffing_compression``
  times or more with zlib (compressibility separates spam pages: Ntoulas et
  al., WWW 2006), or each of its terms comes ``min_term_repeats`` times.
- ``screen.hidden_links``: hidden links to ``min_link_domains`` or more other
  registrable domains that the visible page does not link to (hidden-link SEO
  spam); sister sites and share buttons the page shows do not count.

``HiddenHtmlScreen.measure`` gives a page's signals, ``judge`` the rules they
break (``benchmarks/hidden_html_calibration.py`` reports both on real pages).
Evidence: which kind fired, how the text is hidden (``display:none <div>``),
the counts and the hidden span.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from curate.config_schema import bounds
from curate.decoded_columns import column_values
from stages.charset import decode_html
from stages.screens.base import Action, Finding, ScreenStage
from stages.screens.injection import INJECTION_PATTERNS
from stages.screens.trigger_bursts import registrable_domain

_OFF_SCREEN = re.compile(
    r"(?:left|top|text-indent|margin-left|margin-top):-(?:9{3,}|[1-9][0-9]{3,})(?:\.[0-9]+)?(?:px|em|pt)?"
)
_ZERO_FONT = re.compile(r"font-size:0(?:[a-z%]+)?(?:;|$|!)")
_ZERO_OPACITY = re.compile(r"opacity:0(?:\.0+)?(?:;|$|!)")
_FONT_SIZE = re.compile(r"(?:^|;)font-size:")
_COLOR = re.compile(r"(?:^|;)color:([^;!]+)")
_BACKGROUND = re.compile(r"(?:^|;)background(?:-color)?:([^;!]+)")
_VISIBLE_AGAIN = re.compile(r"(?:^|;)visibility:visible")
_SPACE = re.compile(r"\s+")
_MARKUP = re.compile(r"<[a-zA-Z/!]")
_NOT_LETTERS = re.compile(r"[\d\s]+")
_TERM_BREAK = re.compile(r"[\W\d_]+")
_LETTER = re.compile(r"[^\W\d_]")
# 30 characters of a URL, file name, slug, base64 or code without a break.
_LONG_TOKEN = re.compile(r"[A-Za-z0-9_/.:=+%&?#~@\\{}()\[\]^$*-]{30,}")
_CANDIDATES = "descendant::*[@style or @hidden or @aria-hidden or self::noscript]"

# Hidden text addressed to a model. Hidden text has no human reader, so text that talks to a
# model there has no innocent reading; in visible text (an article about AI) the same words would
# be ordinary sentences, so these are looked for in hidden prose only. Two kinds of evidence:
# phrases (the injection screen's, and those below), and, per sentence, words of two kinds
# together (a model named and a directive; "ignore" and "instructions"; "you must" and "answer"),
# which also catches phrasings no list has.
_AI_WORD = r"(?<![A-Za-z])(?:AI|A\.I\.|LLMs?|GPT|ChatGPT)(?![A-Za-z])"
_AI_ZH = (
    rf"(?:{_AI_WORD}|人工智能|(?:大型?)?语言模型|大模型|聊天机器人|(?:AI|智能|人工智能)助手|智能体"
    r"|(?:自动化?|智能)(?:代理|程序|系统)|(?:自动)?(?:生成)?(?:摘要|总结|问答)的?(?:程序|工具|系统)|机器(?:人)?读者)"
)
_MODEL_ZH = rf"(?:{_AI_ZH}|爬虫|机器人|模型)"
_AI_EN = (
    rf"(?:{_AI_WORD}|(?:large )?language models?|AI (?:assistants?|models?|agents?|systems?)|chat ?bots?"
    r"|automated (?:readers?|systems?|agents?|tools?)|machine readers?)"
)
_MODEL_EN = rf"(?:{_AI_EN}|assistants?|bots?|agents?|crawlers?|models?)"
MODEL_DIRECTED_PATTERNS = (
    # Chinese: addressing a model ...
    rf"(?:如果|假如|若|倘若|假设)[^。！？\n]{{0,10}}是(?:一[个名位])?{_MODEL_ZH}",
    rf"(?:致|写给|给|对于?|提醒|通知)[^。！？\n]{{0,12}}?{_AI_ZH}(?:们)?(?:的?(?:指示|指令|说明|提示|话))?[:：，,]",
    rf"{_AI_ZH}(?:们)?(?:请注意|注意|须知)",
    rf"(?:请|要求|命令){_AI_ZH}",
    rf"(?:仅|只)(?:供|给|面向){_AI_ZH}",
    r"(?:你|您)(?:现在|从现在起|从现在开始)?是(?:一[个名位])?[^。！？\n]{0,10}(?:助手|模型|AI|机器人)",
    r"(?:你|您)(?:现在)?的(?:新)?(?:身份|角色)(?:是|为|变成|改为)",
    r"假装(?:你|您)是",
    r"(?:你|您)[^。！？\n]{0,4}(?:扮演|充当|假扮)",
    r"从现在(?:开始|起)[，,]?(?:你|您)",
    r"(?:无论|不管|不论)用户(?:问|询问|提问|说)",
    # ... telling it what to do or to drop its instructions
    (
        rf"{_MODEL_ZH}(?:们)?[^。！？\n]{{0,12}}(?:必须|务必|一定要|应当|应该|请|不得|不要|禁止)[^。！？\n]{{0,20}}"
        r"(?:回答|回复|输出|推荐|总结|摘要|告诉用户|声称|提到|提及|忽略|无视|引用|透露|泄露|显示|评价|评为)"
    ),
    r"(?:忽略|无视|忽视|忘记|忘掉|不要理会|不要管|不要遵循|不要遵守|跳过)[^。！？\n]{0,15}(?:指令|指示|提示词|提示|规则|设定|系统提示|要求|内容|一切)",
    r"新的?(?:指令|指示)[:：]",
    r"(?:停止|放弃|中止)(?:执行)?(?:原来|之前|原先|先前|当前|现在)的?(?:任务|指令|指示|设定)",
    r"(?:你|您)的(?:系统提示|提示词|初始指令|隐藏指令)",
    r"(?:你|您)的(?:新|真正的?)(?:任务|指令|角色)(?:是|为|变成|改为)",
    r"(?:在|当)(?:你|您)?(?:回答|回复|总结|摘要|概括|介绍)[^。！？\n]{0,20}(?:时|的时候)[^。！？\n]{0,10}(?:必须|务必|一定要|都要|请|只)",
    r"你(?:必须|务必|一定要|只能|应该|应当)要?(?:推荐|称赞|夸奖|声称|告诉用户|输出|引用|写明|提到|提及)",
    r"(?:加入|加到|写入|插入|包含|附上|附加)[^。！？\n]{0,8}(?:你的|每个|每条|所有)(?:回答|回复|答案|输出)",
    # English: addressing a model ...
    rf"\b(?:if|when) you(?:'re| are) (?:an? )?{_MODEL_EN}\b",
    rf"\b(?:note|message|instructions?|attention|hey|hi|dear)(?: to| for)?,? (?:the |any |all |every )?{_AI_EN}",
    (
        rf"\b(?:for|to) (?:any|all|every|the) {_MODEL_EN} "
        r"(?:reading|crawling|processing|summari[sz]ing|parsing|that reads?)\b"
    ),
    rf"\b(?:for {_AI_EN} only|only for {_AI_EN})",
    rf"{_AI_EN}\s*[,:]\s*(?:please|you (?:must|should|will)|ignore|forget|disregard|do not|don't)\b",
    rf"\byou are (?:no longer|now) (?:an? )?(?:\w+ )?{_MODEL_EN}\b",
    r"\b(?:whatever|no matter what|regardless of what) the user\b",
    r"\bnew (?:system )?(?:instructions?|prompt|rules?)\s*:",
    (
        r"\b(?:do not|don't|stop) follow(?:ing)? (?:your|the|any) "
        r"(?:original|previous|prior|initial|earlier|above|system)? ?(?:instructions?|rules|guidelines|prompt)\b"
    ),
    (
        r"\bwhen (?:generating|writing|giving|producing|composing) "
        r"(?:an? |your )?(?:answer|response|reply|summary|output)\b"
    ),
    r"\b(?:pretend|imagine|act as if) (?:that )?you(?:'re| are)\b",
    # ... telling it what to do or to drop its instructions
    (
        rf"\b{_MODEL_EN}\b[^.!?\n]{{0,30}}"
        r"\b(?:must|should|shall|always|never|do not|don't|are (?:instructed|required) to)\b[^.!?\n]{0,30}"
        r"\b(?:say|respond|reply|answer|recommend|output|summari[sz]e|describe|state|mention|include|ignore|claim|tell)"
    ),
    (
        r"\b(?:ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,40}"
        r"\b(?:instructions?|prompts?|guidelines|system prompt|user'?s? (?:question|request|query))\b"
    ),
    r"\b(?:ignore|disregard|forget)\s+(?:everything|all|anything)\s+(?:above|before|prior|previous|else)\b",
    r"\byour (?:new|real|actual|true) (?:task|instructions?|goal|objective|role)\b",
    r"\bwhen (?:summari[sz]ing|answering|responding|asked about)\b[^.!?\n]{0,40}\b(?:always|must|should|only)\b",
    (
        r"\bfrom now on,? (?:you )?(?:will |must |should |shall )?(?:only )?"
        r"(?:respond|reply|answer|act|behave|pretend|say)\b"
    ),
    (
        r"\b(?:include|insert|add|append|mention)\b[^.!?\n]{0,40}"
        r"\b(?:in|to|into) (?:your|every|each|all) (?:answers?|responses?|replies|outputs?)\b"
    ),
    r"\b(?:reveal|disclose)\b[^.!?\n]{0,20}\b(?:these|your|the) (?:instructions|prompt)\b",
    r"\b(?:system prompt|developer mode|jailbreak)\b",
)
_INJECTION = re.compile("|".join(f"(?:{p})" for p in INJECTION_PATTERNS), re.IGNORECASE)
_MODEL_DIRECTED = re.compile("|".join(f"(?:{p})" for p in MODEL_DIRECTED_PATTERNS), re.IGNORECASE)


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


# Kinds of words; a sentence with words of the right kinds together reads as an instruction to a
# model. Phrase lists do not carry over to phrasings nobody listed: of 20 instructions written
# after the phrases and kinds here were fixed (tests/hidden_attacks.py), the phrases alone catch
# 2, with the kinds 15. The price is paid in visible text, where this is never applied: the
# kinds match 55 of 4,988 real documents (1.1 %: articles about AI, manuals); in the 17,653
# hidden blocks of the 1,714 real pages of the calibration, none.
_MODEL = _words(
    _AI_ZH, _AI_EN, r"\bsummari[sz]ers?\b", r"(?:自动化?|智能)(?:工具|系统)|(?:回答|问答)(?:程序|工具|系统)"
)
_MODEL_GENERIC = _words(r"模型|机器人|助手|程序|爬虫", r"\b(?:models?|assistants?|bots?|agents?|crawlers?)\b")
_DIRECTIVE = _words(
    r"必须|务必|一定要|一律|只能|都要|都应|不得|禁止|不要|别|请|你要",
    (
        r"\b(?:must|should|shall|always|never|do not|don't|please|make sure|be sure|treat|pretend"
        r"|(?:are|is) (?:required|instructed|expected) to)\b"
    ),
)
_OUTPUT = _words(
    r"回答|回复|输出|总结|摘要|概括|推荐|评价|评分|评为|引用|提及|提到|告诉用户|称其|称本|说成",
    r"\b(?:answers?|answering|respond|response|reply|output|summar\w*|describe|recommend|rate|rank|cite|mention|tell|say|print|praise)\b",
)
_READING = _words(r"读取|阅读|浏览|抓取", r"\b(?:reading|reads|processing|crawling|parsing)\b")
_USER = _words(r"用户|有人问|被问", r"\b(?:the user|users?|anyone asks|(?:if|when) asked)\b")
_OVERRIDE = _words(
    r"忽略|无视|忽视|忘记|忘掉|别管|不要理会|不要遵守|不要遵循|抛开|清空|作废",
    r"\b(?:ignore|disregard|forget|override|bypass)\b",
)
_RULES = _words(
    r"指令|指示|提示|规则|设定|限制|上下文|对话|命令|消息",
    r"\b(?:instructions?|rules|restrictions?|guidelines|prompts?|context|conversation|told)\b",
)
_SECOND_PERSON = _words(r"你", r"\byou(?:r)?\b")
_THIS_PAGE = _words(
    r"本页|此页|这个页面|该页面|本文|本站|这段文字|这个网站|本网站",
    r"\bthis (?:page|article|site|website|document|text|line)\b",
)
_IMPERATIVE = re.compile(
    r"\s*(?:tell|say|describe|rate|recommend|respond|reply|answer|print|praise|ignore|forget|disregard)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])|(?<=\.)\s+")


def _talks_to_a_model(sentence: str) -> bool:
    directive = _DIRECTIVE.search(sentence)
    output = _OUTPUT.search(sentence)
    if _MODEL.search(sentence) and (directive or output or _READING.search(sentence)):
        return True
    if (
        _MODEL_GENERIC.search(sentence)
        and directive
        and (output or _READING.search(sentence) or _SECOND_PERSON.search(sentence) or _THIS_PAGE.search(sentence))
    ):
        return True
    if _OVERRIDE.search(sentence) and _RULES.search(sentence):
        return True
    # Shaping what the reader answers: "tell the user ...", "你在回答用户时要 ...".
    return bool(
        output
        and (_USER.search(sentence) or _THIS_PAGE.search(sentence))
        and (_SECOND_PERSON.search(sentence) or directive or _IMPERATIVE.match(sentence))
    )


_CONTEXT = 40


def _span(text: str, match: re.Match) -> str:
    return text[max(0, match.start() - _CONTEXT) : match.end() + _CONTEXT]


def instruction(text: str) -> str | None:
    """The span of ``text`` that reads as an instruction to a model, or None."""
    match = _INJECTION.search(text) or _MODEL_DIRECTED.search(text)
    if match is not None:
        return _span(text, match)
    return next((sentence.strip() for sentence in _SENTENCE_END.split(text) if _talks_to_a_model(sentence)), None)


@dataclass
class HiddenHtmlScreenConfig:
    """Thresholds set on real pages that are no attack, measured with
    ``benchmarks/hidden_html_calibration.py`` (``results/hidden_html_calibration.json``): 227
    Chinese pages (the 143 zh_sites pages: 102 articles, forum and Q&A pages and 41 portal pages
    of news portals, fund companies, shops, search engines, WeChat and zhihu; the 69 zh_gb2312
    pages; the 4 Chinese readability test pages; the Common Crawl excerpt's 11 Chinese pages),
    checked on the 144 gambling operator pages (hidden tabs and pop-ups) and 1,343 mostly Western
    pages (trafilatura's evaluation set, scrapinghub, readability). Budget: each rule fires on at
    most 1 % of the Chinese pages, all of them together on at most 2 % of the zh_sites pages. With
    these defaults: none of the 227 Chinese pages, 4 of the 144 gambling pages (hidden pop-up
    text that trafilatura extracts), 51 of the 1,343 Western pages (3.8 %: cookie and newsletter
    notices without controls, sister-brand menus)."""

    action: Action = "drop"
    min_piece_chars: int = field(default=20, metadata=bounds(1))
    """A text piece this long is a sentence, not a label: shorter pieces (labels, dates, prices)
    are left out of ``screen.hidden_text``."""
    min_text_chars: int = field(default=50, metadata=bounds(1))
    """Hidden prose found in the extracted text (characters, whitespace left out) that makes
    ``screen.hidden_text``: a sentence or two (People's Daily paragraphs: median 71). Chinese
    pages: 2 of 227 reach 50 (60 and 1,772 characters), both over ``max_hidden_text_share``,
    none has 1-49; gambling pages: 6 of 144 (78-523 characters of pop-up text)."""
    max_hidden_text_share: float = field(default=0.5, metadata=bounds(0, 1))
    """Hidden prose above this share of the extracted text is the page's own content shown by
    scripts (summaries revealed on a click, a page revealed once loaded), not text slipped into
    a visible page; such pages are left to ``min_hidden_chars``. Shares where 50+ characters
    reach the text: Chinese pages 0.62 (an image search page's tips) and 0.96 (a search
    fragment's summaries); Western pages 0.63-0.98 on five that show their article or consent
    text by script, 0.02-0.41 on eleven that slip pop-up or comment-form text in; gambling
    pages 0.17-0.57."""
    min_hidden_chars: int = field(default=200, metadata=bounds(1))
    """Hidden prose (pieces as above, not shown elsewhere on the page) in one element without
    controls and not a ``<noscript>`` that makes ``screen.hidden_text`` even when trafilatura
    leaves it out: a cloaked article. Chinese pages: at most 120 (a search fragment's summary)
    and 100 (a product page's spec tab); gambling pages: one of 144 (a rules pop-up, 218, whose
    text reaches the text anyway); Western pages: 30 of 1,343 (cookie and newsletter notices,
    collapsed captions)."""
    min_stuffing_chars: int = field(default=50, metadata=bounds(1))
    """Letters (digits and spaces left out) a hidden piece needs before its repetition says
    anything: zlib's own overhead dominates shorter strings."""
    min_stuffing_compression: float = field(default=2.5, metadata=bounds(1))
    """UTF-8 bytes / zlib bytes of one hidden piece (digits left out) that make
    ``screen.hidden_stuffing``. Prose compresses 1.1-1.8: highest 1.82 on the Chinese pages,
    1.76 on the gambling pages; on the Western pages 4.46 (a readability test page of repeated
    lorem ipsum) and 2.45 (a LaTeX fallback), then 2.34."""
    min_term_repeats: float = field(default=3.0, metadata=bounds(1))
    """Terms per distinct term in one hidden piece (8 terms or more) that make
    ``screen.hidden_stuffing``: a term list repeated three times, in any order (zlib misses
    short terms shuffled). Highest 1.16 on the Chinese pages, 2.05 on the gambling pages (a
    page template's placeholders), 3.75 and 3.33 on the two Western pages above, then 2.73
    (long English prose repeats function words). With the compression rule: 96 % of 3,931
    random term lists (4-10 terms, 3-6 times) caught; the misses are shuffled lists without
    separators, repeated 3-4 times."""
    min_link_domains: int = field(default=10, metadata=bounds(1))
    """Other registrable domains, not linked from the visible page, that hidden links point to
    for ``screen.hidden_links``. Chinese pages: at most 9 (a 2005 portal's rotating text-ad
    slot), then 3; gambling pages: at most 3; Western pages: 12 of 1,343 at 10 or more
    (publishers' sister-brand menus, social icons)."""


def hiding(element: Any) -> str | None:
    """How ``element`` (an lxml element) hides its content, or None if it does not."""
    if element.tag == "noscript":
        return "noscript"
    if element.get("hidden") is not None:
        return "hidden attribute"
    if (element.get("aria-hidden") or "").strip().lower() == "true":
        return "aria-hidden"
    style = _SPACE.sub("", (element.get("style") or "").lower())
    if not style:
        return None
    if "display:none" in style:
        return "display:none"
    if "visibility:hidden" in style:
        return "visibility:hidden"
    if _ZERO_OPACITY.search(style):
        return "opacity:0"
    if _OFF_SCREEN.search(style):
        return "off-screen"
    if _ZERO_FONT.search(style):
        return "font-size:0"
    color, background = _COLOR.search(style), _BACKGROUND.search(style)
    if color and background and color.group(1) == background.group(1):
        return "colour = background"
    return None


def is_hidden(element: Any) -> bool:
    return hiding(element) is not None


def _undoes(style: str, how: str) -> bool:
    """Whether a descendant's inline style makes text visible again under a ``how`` ancestor."""
    if how == "font-size:0":
        return bool(_FONT_SIZE.search(style)) and not _ZERO_FONT.search(style)
    if how == "visibility:hidden":
        return bool(_VISIBLE_AGAIN.search(style))
    if how == "colour = background":
        return bool(_COLOR.search(style))
    return False


def _undoing(element: Any, how: str) -> set:
    """The descendants of a hidden ``element`` whose own style makes their text visible again."""
    if how not in ("font-size:0", "visibility:hidden", "colour = background"):
        return set()
    return {
        e
        for e in element.iterdescendants()
        if isinstance(e.tag, str) and e.get("style") and _undoes(_SPACE.sub("", e.get("style").lower()), how)
    }


def _clean(texts: list[Any], how: str) -> list[str]:
    pieces = [_SPACE.sub(" ", t).strip() for t in texts]
    # <noscript> often holds markup as text: that is no prose. Elsewhere such text was written
    # as entities (&lt;b&gt;) and is text, which must not hide a piece from the screen.
    return [piece for piece in pieces if piece and not (how == "noscript" and _MARKUP.search(piece))]


def _squeeze(text: str) -> str:
    return _SPACE.sub("", text)


def is_prose(piece: str) -> bool:
    """Mostly letters (Han or alphabetic), and no URL, slug, base64 or code token."""
    return 2 * len(_LETTER.findall(piece)) >= len(_squeeze(piece)) and not _LONG_TOKEN.search(piece)


def _host(href: str) -> str | None:
    href = href.strip()
    if href.startswith("//"):
        href = "http:" + href
    if not href[:8].lower().startswith(("http://", "https://")):
        return None
    try:
        return urlsplit(href).hostname
    except ValueError:
        return None


@dataclass
class HiddenBlock:
    """The content of one outermost hidden element."""

    how: str
    """``display:none <div>``: the hiding and the element."""
    prose: list[str]
    """Text pieces outside links."""
    link_text: list[str]
    hrefs: list[str]
    controls: bool
    """Buttons, inputs, forms or ``javascript:`` links: UI waiting for a click."""


_NON_LINK_TEXT = "descendant-or-self::text()[not(ancestor::a)]"
_LINK_TEXT = "descendant-or-self::a//text()"
_CONTROLS = (
    "boolean(descendant-or-self::*[self::button or self::input or self::select or self::textarea or self::form"
    " or @onclick or (self::a and (starts-with(normalize-space(@href), 'javascript')"
    " or normalize-space(@href) = '#'))])"
)


class HiddenPage:
    """A page's hidden blocks; what the rest of the page shows is worked out only when asked."""

    def __init__(self, html: str) -> None:
        import lxml.etree
        import lxml.html

        self.blocks: list[HiddenBlock] = []
        try:
            root = lxml.html.document_fromstring(html)
        except (ValueError, lxml.etree.ParserError):
            self._body = None
            return
        # Scripts and styles are not text, hidden or not.
        lxml.etree.strip_elements(root, "script", "style", with_tail=False)
        body = root.find("body")
        self._body = body if body is not None else root
        hidden = [
            (element, how)
            for element in self._body.xpath(_CANDIDATES)
            if isinstance(element.tag, str) and (how := hiding(element))
        ]
        # Elements whose hiding some descendants undo: text under those descendants is visible.
        self._undone = {element: undone for element, how in hidden if (undone := _undoing(element, how))}
        hidden_set = {element for element, _ in hidden}
        for element, how in hidden:
            # The outermost hidden elements only, so nested ones are not counted twice.
            if not self._covered(element, hidden_set):
                self.blocks.append(self._take(element, how))

    def _covered(self, element: Any, hidden_set: set) -> bool:
        """Whether a hidden ancestor hides ``element`` too (not where a descendant undoes it)."""
        path = [element]
        for ancestor in element.iterancestors():
            if ancestor in hidden_set and not any(e in self._undone.get(ancestor, ()) for e in path):
                return True
            path.append(ancestor)
        return False

    def _take(self, element: Any, how: str) -> HiddenBlock:
        """The block's content, taken out of the tree so that what remains is the visible page."""
        if element in self._undone:
            return self._take_around(element, how, self._undone[element])
        block = HiddenBlock(
            f"{how} <{element.tag}>",
            _clean(element.xpath(_NON_LINK_TEXT), how),
            _clean(element.xpath(_LINK_TEXT), how),
            element.xpath("descendant-or-self::a/@href"),
            element.xpath(_CONTROLS),
        )
        element.drop_tree()
        return block

    def _take_around(self, element: Any, how: str, undone: set) -> HiddenBlock:
        """Only the text outside ``undone`` descendants is hidden; it is blanked in the tree."""

        def ancestors(node: Any) -> list[Any]:
            # From the element holding the text up to ``element``: a tail belongs to the parent.
            chain, current = [], node.getparent()
            current = current.getparent() if node.is_tail else current
            while current is not None:
                chain.append(current)
                if current is element:
                    break
                current = current.getparent()
            return chain

        prose, links = [], []
        for node in element.xpath("descendant-or-self::text()"):
            chain = ancestors(node)
            if any(e in undone for e in chain):
                continue
            (links if any(e.tag == "a" for e in chain) else prose).append(str(node))
            owner = node.getparent()
            if node.is_tail:
                owner.tail = None
            else:
                owner.text = None
        hrefs = [
            a.get("href") or "" for a in element.iter("a") if not any(e in undone for e in (a, *a.iterancestors()))
        ]
        return HiddenBlock(
            f"{how} <{element.tag}>", _clean(prose, how), _clean(links, how), hrefs, element.xpath(_CONTROLS)
        )

    @cached_property
    def visible_text(self) -> str:
        """The text left on the page once hidden blocks are taken out, without whitespace."""
        return _squeeze("".join(self._body.xpath(".//text()"))) if self._body is not None else ""

    @cached_property
    def visible_domains(self) -> set[str]:
        if self._body is None:
            return set()
        return {registrable_domain(host) for host in map(_host, self._body.xpath(".//a/@href")) if host}

    def shown_elsewhere(self, piece: str, min_piece_chars: int) -> bool:
        """Whether a hidden piece also shows on the page: a copy for another layout, or the full
        text behind a visible summary ("read more"), whose start is visible."""
        return _squeeze(piece)[:min_piece_chars] in self.visible_text


def _compression(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data, 6))


def _repetition(text: str) -> float:
    """Terms (runs of letters between spaces, punctuation or digits) per distinct term; 1 for
    text with fewer than 8 terms. Catches a shuffled term list, which zlib compresses poorly."""
    terms = [term for term in _TERM_BREAK.split(text.lower()) if term]
    return len(terms) / len(set(terms)) if len(terms) >= 8 else 1.0


@dataclass
class HiddenSignals:
    """What the rules measure on one page (``HiddenHtmlScreen.measure``), with where it was seen."""

    text_chars: int = 0
    """The extracted text's characters, whitespace left out."""
    in_text: list[tuple[str, str]] = field(default_factory=list)
    """Hidden prose pieces found in the extracted text, with how they were hidden."""
    block_chars: int = 0
    """Hidden prose in the largest hidden element without controls (not <noscript>)."""
    block: tuple[str, list[str]] = ("", [])
    instruction: tuple[str, str] | None = None
    """How it was hidden, and the span that reads as an instruction to a model."""
    compression: float = 0.0
    repetition: float = 0.0
    stuffing: tuple[str, str] = ("", "")
    """The hidden piece that repeats itself most, and how it was hidden."""
    other_sites: dict[str, int] = field(default_factory=dict)
    """Hidden links per other registrable domain that the visible page does not link to (below
    ``min_link_domains`` domains the visible page is not read: all other domains)."""
    links_how: str = ""

    @property
    def reached(self) -> int:
        return sum(len(_squeeze(piece)) for _, piece in self.in_text)


class HiddenHtmlScreen(ScreenStage):
    name = "screen_hidden_html"
    config_class = HiddenHtmlScreenConfig
    reads = ("html", "http_content_type", "text", "domain")
    needs_html = True

    def screen(self, batch: pa.RecordBatch) -> tuple[list[list[Finding]], dict[str, list]]:
        names = batch.schema.names
        texts = column_values(batch, "text") if "text" in names else [None] * batch.num_rows
        domains = column_values(batch, "domain") if "domain" in names else [None] * batch.num_rows
        findings = []
        for html, content_type, text, domain in zip(
            batch.column("html").to_pylist(), column_values(batch, "http_content_type"), texts, domains
        ):
            findings.append(
                self.judge(self.measure(decode_html(html, content_type).text, text or "", domain)) if html else []
            )
        return findings, {}

    def measure(self, html: str, text: str, domain: str | None) -> HiddenSignals:
        """The signals of one page: its decoded HTML, extracted text and host."""
        signals = HiddenSignals(text_chars=len(_squeeze(text)))
        page = HiddenPage(html)
        if page.blocks:
            self._prose(page, _squeeze(text), signals)
            self._instructions(page, signals)
            self._stuffing(page, signals)
            self._links(page, domain, signals)
        return signals

    def judge(self, signals: HiddenSignals) -> list[Finding]:
        """The rules each page's signals break, with evidence."""
        config, found = self.config, []
        reached = signals.reached
        # When most of the text is hidden, the hidden text is the page's content shown by scripts
        # (summaries revealed on a click, a page revealed once loaded), not text slipped in.
        if config.min_text_chars <= reached <= config.max_hidden_text_share * signals.text_chars:
            pieces = signals.in_text
            found.append(
                (
                    "screen.hidden_text",
                    f"reaches the text: {reached} of its {signals.text_chars} characters "
                    f"in {len(pieces)} hidden pieces ({pieces[0][0]}): " + " / ".join(p for _, p in pieces),
                )
            )
        elif signals.block_chars >= config.min_hidden_chars:
            how, pieces = signals.block
            found.append(
                (
                    "screen.hidden_text",
                    f"hidden block of {signals.block_chars} characters of prose ({how}): " + " / ".join(pieces),
                )
            )
        if signals.instruction:
            how, span = signals.instruction
            found.append(("screen.hidden_instructions", f"({how}): {span}"))
        if signals.compression >= config.min_stuffing_compression or signals.repetition >= config.min_term_repeats:
            how, piece = signals.stuffing
            measure = (
                f"compresses {signals.compression:.1f}x"
                if signals.compression >= config.min_stuffing_compression
                else f"each term {signals.repetition:.1f} times"
            )
            found.append(
                ("screen.hidden_stuffing", f"a hidden piece of {len(piece)} characters {measure} ({how}): {piece}")
            )
        if len(signals.other_sites) >= config.min_link_domains:
            sites = signals.other_sites
            found.append(
                (
                    "screen.hidden_links",
                    f"{sum(sites.values())} hidden links to {len(sites)} other sites ({signals.links_how}): "
                    + ", ".join(sites),
                )
            )
        return found

    def _prose(self, page: HiddenPage, squeezed_text: str, signals: HiddenSignals) -> None:
        config = self.config
        for block in page.blocks:
            pieces = [p for p in block.prose if len(p) >= config.min_piece_chars and is_prose(p)]
            pieces = [p for p in pieces if not page.shown_elsewhere(p, config.min_piece_chars)] if pieces else pieces
            signals.in_text += [(block.how, p) for p in pieces if squeezed_text and _squeeze(p) in squeezed_text]
            chars = sum(map(len, pieces))
            # Dialogs, tabs and consent banners carry controls; <noscript> is shown to every
            # reader without scripts ("enable JavaScript", a script-free copy of the page).
            if not block.controls and not block.how.startswith("noscript") and chars > signals.block_chars:
                signals.block_chars, signals.block = chars, (block.how, pieces)

    def _instructions(self, page: HiddenPage, signals: HiddenSignals) -> None:
        for block in page.blocks:
            span = instruction(" ".join(block.prose))
            # Link text is headlines and menus: only the injection screen's own phrases count there.
            links = " ".join(block.link_text)
            match = None if span or not links else _INJECTION.search(links)
            span = span or (_span(links, match) if match else None)
            if span:
                signals.instruction = (block.how, span)
                return

    def _stuffing(self, page: HiddenPage, signals: HiddenSignals) -> None:
        for block in page.blocks:
            for piece in block.prose:
                letters = _NOT_LETTERS.sub(" ", piece).strip()
                if len(letters) < self.config.min_stuffing_chars or not is_prose(piece):
                    continue
                compression, repetition = _compression(letters), _repetition(piece)
                if compression > signals.compression or repetition > signals.repetition:
                    signals.stuffing = (block.how, piece)
                signals.compression = max(signals.compression, compression)
                signals.repetition = max(signals.repetition, repetition)

    def _links(self, page: HiddenPage, domain: str | None, signals: HiddenSignals) -> None:
        own = registrable_domain(domain)
        counts: dict[str, int] = {}
        for block in page.blocks:
            for href in block.hrefs:
                host = _host(href)
                site = registrable_domain(host) if host else ""
                if site and site != own:
                    counts[site] = counts.get(site, 0) + 1
                    signals.links_how = signals.links_how or block.how
        # Sites the visible page links to as well are partners, sister sites or share buttons. (The
        # visible links are only read when they can change the verdict.)
        enough = len(counts) >= self.config.min_link_domains
        signals.other_sites = (
            {site: n for site, n in counts.items() if site not in page.visible_domains} if enough else counts
        )
